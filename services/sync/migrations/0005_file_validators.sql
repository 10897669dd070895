-- Conditional fetch: what identifies the file a source's last succeeded run took whole (the
-- server's ETag and Last-Modified, sent back as If-None-Match / If-Modified-Since, and the
-- file's own digest for servers that send neither), and why a run took nothing from its file.
CREATE TABLE source_files (
  source_id text PRIMARY KEY REFERENCES sources (source_id),
  etag text NOT NULL DEFAULT '',
  last_modified text NOT NULL DEFAULT '',
  digest text NOT NULL DEFAULT '',
  update_time timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE runs ADD COLUMN file_unchanged text NOT NULL DEFAULT ''
  CHECK (file_unchanged IN ('', 'not_modified', 'same_content'));
