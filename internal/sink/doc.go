// Package sink is the output side of nerstream: it turns annotated chunks
// (entity mentions) into Parquet files and stores them on object storage.
//
// # Files
//
// [WriteParquet] encodes a slice of [Row] as one Parquet file (zstd, one row
// group per [WithRowGroupSize] rows, signed integers and UTF-8 strings only so
// that Spark, DuckDB and pandas read it without casts). The column set, their
// meaning and example queries are documented in schemas/chunks.md; the same
// descriptions travel inside every file as Arrow field metadata (key
// "description"). [ReadParquet] is the inverse and is what tests and the
// evaluation command use.
//
// # Keys
//
// Every file holds the chunks produced from one contiguous Kafka offset range
// of one partition, and its object key says so:
//
//	<prefix>/model=<name>-<version12>/topic=<topic>/partition=<p>/<first %020d>-<last %020d>.parquet
//
// [Key] builds and [ParseKey] parses such keys. The zero padding makes the
// lexical order of keys equal to their offset order, and the "name=value"
// directories are Hive-style partitions for Spark and DuckDB. The model
// directory is "<model name>-<first 12 hex digits of the bundle version>"
// (see [ModelDir]), so that the output of two model versions never mixes and
// a new model can be backfilled beside the old one.
//
// # Stores
//
// [OpenBucket] opens a [Store] from a URL (s3://, gs://, azblob://, file://,
// mem://) through gocloud.dev/blob. [Store.Upload] encodes a file in memory
// and writes it with one atomic put (readers never see half a file), retrying
// transient failures with exponential backoff. A write that fails is aborted
// (never committed short: a full disk leaves nothing at the key), and Upload
// succeeds only once the stored object is verified to hold exactly the
// encoded bytes (size and MD5; file:// objects are read back and fsynced).
// [Store.LastOffset] recovers, from the keys, the last Kafka offset already
// stored for a partition, which is how a restarted worker knows where to
// resume without trusting its committed consumer offsets. An empty object, or
// a last object that is not a whole Parquet file, does not count as stored:
// it is logged and removed, and its offsets are read again.
// [Store.ClaimSettings] keeps one model directory to one set of the worker's
// output settings (recorded in [SettingsObject] by the first worker).
package sink
