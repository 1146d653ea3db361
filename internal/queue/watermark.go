package queue

import "context"

// HighWatermark asks the broker for the partition's high-water mark now: the
// offset the next produced record will get. A handler uses it to prove that
// it has seen every record produced before a point in time (see the worker's
// idle-file rule), which a fetch response obtained before a pause cannot.
func (g *Group) HighWatermark(ctx context.Context, partition int) (int64, error) {
	_, last, err := g.offsets(ctx, partition)
	return last, err
}
