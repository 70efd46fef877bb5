-- Entries of a story in the order every reader of them wants: unfiltered
-- first, dated before undated, then oldest first, with the source at hand.
-- Choosing a story's primary entry (each store batch) and listing its
-- credited partners (each story published) then read the index in order
-- instead of sorting each story's few entries in a temporary B-tree, which
-- a cold publish did 47 000 times.
DROP INDEX entries_story;
CREATE INDEX entries_story ON entries (story_id, filtered, date_estimated, published, id, source_id);
