-- Scale-out: an S3 upload in flight records its multipart upload id, so that whichever node
-- reclaims the ingest after its writer died can abort the upload and drop its parts.
ALTER TABLE ingests ADD COLUMN upload_id TEXT;
