package stream

import "context"

// uploadFailed records an upload that failed after the store's retries (see
// sink.WithRetry): the worker stops with nothing committed past the file, so
// the next owner re-reads the file's records from Kafka and nothing is lost.
// It raises nerstream_upload_errors_total and
// nerstream_partitions_stopped_total and logs one alert-worthy line.
func (w *Worker) uploadFailed(ctx context.Context, u upload, err error) {
	w.m.UploadErrors.Inc()
	if ctx.Err() != nil {
		return // shutting down: not a storage fault
	}
	w.m.PartitionsStopped.Inc()
	w.log.Error("PARTITION STOPPED: upload failed after retries; nothing past the last stored file is committed, the worker exits and the next owner re-reads",
		"partition", u.key.Partition, "key", u.key.String(), "first", u.key.First, "last", u.key.Last, "rows", len(u.rows), "err", err)
}
