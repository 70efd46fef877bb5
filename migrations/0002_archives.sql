-- RFC 5005 archived feeds: the main Atom feed is paged into immutable
-- archive documents, each a fixed range of story ids (insertion order, so a
-- late, backdated story never reshuffles old pages).
CREATE TABLE archives (
    page         INTEGER PRIMARY KEY,       -- 1 = oldest
    first_story  INTEGER NOT NULL,
    last_story   INTEGER NOT NULL,
    -- A story of the range changed (edited, filtered, unfiltered): re-render.
    dirty        INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX archives_range ON archives (first_story, last_story);
