package queue

import (
	"context"
	"fmt"

	"github.com/segmentio/kafka-go"
)

// HighWatermark asks the broker for the partition's high-water mark now: the
// offset the next produced record will get. A handler uses it to prove that
// it has seen every record produced before a point in time (see the worker's
// idle-file rule), which a fetch response obtained before a pause cannot.
func (g *Group) HighWatermark(ctx context.Context, partition int) (int64, error) {
	_, last, err := g.offsets(ctx, partition)
	return last, err
}

// HighWatermarks returns the high-water mark of every partition of topic
// (an empty map when the topic does not exist). Dashboards and the demo use
// it to tell when the output covers everything produced so far.
func HighWatermarks(ctx context.Context, cfg Config, topic string) (map[int]int64, error) {
	n, err := topicPartitions(ctx, cfg, topic)
	if err != nil || n == 0 {
		return map[int]int64{}, err
	}
	client, tr, err := cfg.client()
	if err != nil {
		return nil, err
	}
	defer tr.CloseIdleConnections()
	reqs := make([]kafka.OffsetRequest, n)
	for p := range n {
		reqs[p] = kafka.LastOffsetOf(p)
	}
	resp, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("list offsets of %s on brokers %s: %w", topic, cfg.brokerList(), err)
	}
	out := make(map[int]int64, n)
	for _, po := range resp.Topics[topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("list offsets of %s partition %d: %w", topic, po.Partition, po.Error)
		}
		out[po.Partition] = po.LastOffset
	}
	return out, nil
}
