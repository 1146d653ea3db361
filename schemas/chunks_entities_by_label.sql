-- Entities per label over the current content of every document in a set of
-- nerstream chunk files (see schemas/chunks.md).
--
-- Replace {{files}} with a read_parquet call over ONE model directory, e.g.
--   read_parquet('s3://bucket/prefix/model=bilstm-0123456789ab/**/*.parquet', hive_partitioning = true)
--
-- Per doc_id the row with the highest (doc_version, kafka_offset) wins; at a
-- tie a tombstone (op = 'delete') wins. If the winner is a tombstone the
-- document is dropped, otherwise only the chunks written from the winning
-- message count: older versions, re-sent copies and deleted documents vanish.
-- kafka_offset only orders messages of one partition, which holds because
-- the producer keys messages by doc_id.
WITH chunks AS (
    SELECT * FROM {{files}}
),
winner AS (
    SELECT doc_id, doc_version, kafka_offset, op
    FROM chunks
    QUALIFY row_number() OVER (
        PARTITION BY doc_id
        ORDER BY doc_version DESC, kafka_offset DESC, (op = 'delete') DESC
    ) = 1
)
SELECT c.label,
       count(*)                 AS entities,
       count(DISTINCT c.doc_id) AS documents
FROM chunks AS c
JOIN winner AS w USING (doc_id, doc_version, kafka_offset)
WHERE w.op = 'upsert'
  AND c.op = 'upsert'
  AND c.chunk_index >= 0
GROUP BY c.label
ORDER BY entities DESC, c.label;
