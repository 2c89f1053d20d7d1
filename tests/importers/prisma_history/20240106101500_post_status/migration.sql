-- Create the enum only where an earlier hand-written script did not   
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'PostStatus') THEN
        CREATE TYPE "PostStatus" AS ENUM ('DRAFT', 'REVIEW', 'LIVE');
    END IF;
END
$$;

-- AlterTable
ALTER TABLE "Post" ADD COLUMN     "status" "PostStatus" NOT NULL DEFAULT 'DRAFT';
