-- RenameIndex
ALTER INDEX "User_email_key" RENAME TO "User_email_unique";

-- AlterTable
ALTER TABLE "Tag" RENAME TO "Label";
