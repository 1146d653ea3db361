-- Entities per label over the current content of every document in a set of
-- nerstream chunk files (see schemas/chunks.md).
--
-- Replace {{files}} with a read_parquet call over ONE model directory, e.g.
--   read_parquet('s3://bucket/prefix/model=bilstm-0123456789ab/**/*.parquet', hive_partitioning = true)
--
-- A document with a tombstone (op = 'delete', PubMed DeleteCitation) is
-- withdrawn for good. Otherwise only the chunks written from the message that
-- carried its highest doc_version count: older versions and re-sent copies
-- vanish. The rule needs no ordering across partitions (batches of many
-- documents are keyed by batch id, so a document's versions may sit in
-- different partitions).
WITH chunks AS (
    SELECT * FROM {{files}}
),
winner AS (
    -- the latest version's copy; among copies of one version (re-sent
    -- messages, possibly in different partitions) any one is taken, the same
    -- one every time
    SELECT doc_id, doc_version, kafka_partition, kafka_offset
    FROM chunks
    WHERE op = 'upsert' AND chunk_index = -1
    QUALIFY row_number() OVER (
        PARTITION BY doc_id
        ORDER BY doc_version DESC, kafka_partition DESC, kafka_offset DESC
    ) = 1
),
deleted AS (
    SELECT DISTINCT doc_id FROM chunks WHERE op = 'delete'
)
SELECT c.label,
       count(*)                 AS entities,
       count(DISTINCT c.doc_id) AS documents
FROM chunks AS c
JOIN winner AS w USING (doc_id, doc_version, kafka_partition, kafka_offset)
WHERE c.doc_id NOT IN (SELECT doc_id FROM deleted)
  AND c.chunk_index >= 0
GROUP BY c.label
ORDER BY entities DESC, c.label;
