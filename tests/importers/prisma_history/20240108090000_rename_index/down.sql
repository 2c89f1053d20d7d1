ALTER TABLE "Label" RENAME TO "Tag";
ALTER INDEX "User_email_unique" RENAME TO "User_email_key";
