-- A counter per source, bumped whenever a story it carries changes (new,
-- edited, merged, filtered or unfiltered): publishing re-renders a partner's
-- own feed only when its counter moved.
ALTER TABLE sources ADD COLUMN content_version INTEGER NOT NULL DEFAULT 0;
