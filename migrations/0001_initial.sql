-- ssefeed schema, version 1.
-- Times are Unix seconds (UTC). Lists are JSON arrays of strings.

-- One row per source id ever fetched: HTTP validators and health.
CREATE TABLE sources (
    id                   TEXT PRIMARY KEY,
    url                  TEXT,              -- the URL the validators below belong to
    etag                 TEXT,
    last_modified        TEXT,
    last_attempt         INTEGER,
    last_success         INTEGER,
    last_outcome         TEXT,              -- 'ok' | 'not_modified' | 'failed'
    last_status          INTEGER,           -- HTTP status of the last attempt, if any
    last_error           TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    -- Items the last successful parse yielded: a scrape that yielded some and
    -- now yields none has drifted.
    last_item_count      INTEGER,
    retry_after          INTEGER,           -- do not fetch before this instant (Retry-After)
    gone_url             TEXT,              -- 410 Gone seen for this URL: disabled until the URL changes
    -- The include/exclude rules the entries' `filtered` flags were computed with.
    filter_fingerprint   TEXT,
    feed_title           TEXT,
    site_url             TEXT
) WITHOUT ROWID;

-- A story is what subscribers see once, whichever partners carried it.
CREATE TABLE stories (
    id             INTEGER PRIMARY KEY,
    uid            TEXT NOT NULL UNIQUE,    -- permanent public id (urn:uuid:...)
    story_key      TEXT NOT NULL UNIQUE,    -- canonical link, or "<source>#<guid>"
    primary_entry  INTEGER,                 -- the entry whose fields are shown
    published      INTEGER NOT NULL,        -- copied from the primary entry, for ordering
    updated        INTEGER NOT NULL,
    visible        INTEGER NOT NULL DEFAULT 0  -- some unfiltered entry carries it
);
CREATE INDEX stories_visible_published ON stories (visible, published DESC, id DESC);

-- One row per (source, guid): what that partner said about a story.
CREATE TABLE entries (
    id             INTEGER PRIMARY KEY,
    source_id      TEXT NOT NULL,
    guid           TEXT NOT NULL,
    story_id       INTEGER NOT NULL REFERENCES stories (id),
    title          TEXT NOT NULL,
    link           TEXT,
    summary        TEXT,
    content        TEXT,
    published      INTEGER NOT NULL,        -- first-seen time when the partner gave no date
    date_estimated INTEGER NOT NULL DEFAULT 0,
    updated        INTEGER NOT NULL,
    authors        TEXT NOT NULL DEFAULT '[]',
    categories     TEXT NOT NULL DEFAULT '[]',
    fingerprint    TEXT NOT NULL,
    filtered       INTEGER NOT NULL DEFAULT 0,
    first_seen     INTEGER NOT NULL,
    UNIQUE (source_id, guid)
);
CREATE INDEX entries_story ON entries (story_id, filtered);
CREATE INDEX entries_source ON entries (source_id, filtered, story_id);

-- Article pages followed for scraped sources: fetched once, revalidated conditionally.
CREATE TABLE articles (
    url            TEXT PRIMARY KEY,
    etag           TEXT,
    last_modified  TEXT,
    fetched_at     INTEGER NOT NULL,
    published      INTEGER,
    summary        TEXT,
    content        TEXT,
    canonical      TEXT
) WITHOUT ROWID;

-- Source health events (broke, drifted, recovered, gone) for /status.atom.
CREATE TABLE events (
    id         INTEGER PRIMARY KEY,
    source_id  TEXT NOT NULL,
    at         INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    message    TEXT NOT NULL
);
CREATE INDEX events_at ON events (at DESC);

-- Small key/value facts: the change counter publish compares against.
CREATE TABLE meta (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
) WITHOUT ROWID;
