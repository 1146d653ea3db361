package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// maxEmptyFetches bounds the fetches in a row that return no record before
// a snapshot's end: the records there are gone (retention, compaction) or
// are transaction markers, and the read must end rather than spin.
const maxEmptyFetches = 5

// ReadSnapshot reads every partition of topic from its earliest offset up
// to the high-water mark it had when ReadSnapshot began, and calls fn with
// each record, partition by partition in offset order. Records produced
// after the start are not read, so the read is bounded even while others
// keep writing. It joins no consumer group and commits nothing: a rerun
// reads the same records again (callers that must not act twice keep their
// own record of what they did). Fetches go through the same guard as a
// Group's (WithMaxFetchDecompressedBytes' default bound). It returns the
// snapshot's end offset per partition; fn's error stops the read and is
// returned as is.
func ReadSnapshot(ctx context.Context, cfg Config, topic string, fn func(Record) error) (map[int]int64, error) {
	if len(cfg.Brokers) == 0 {
		return nil, fmt.Errorf("read %s: no Kafka brokers configured (set %s or -brokers)", topic, EnvBrokers)
	}
	n, err := topicPartitions(ctx, cfg, topic)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", topic, err)
	}
	if n == 0 {
		return nil, fmt.Errorf("read %s: the topic does not exist on brokers %s", topic, cfg.brokerList())
	}
	client, tr, err := cfg.client()
	if err != nil {
		return nil, err
	}
	guard := newFetchGuard(DefaultMaxFetchDecompressedBytes, DefaultFetchBytes)
	if tr.Dial, err = guard.dial(cfg); err != nil {
		return nil, err
	}
	tr.TLS = nil // the guard's dial does TLS
	defer tr.CloseIdleConnections()
	reqs := make([]kafka.OffsetRequest, 0, 2*n)
	for p := range n {
		reqs = append(reqs, kafka.FirstOffsetOf(p), kafka.LastOffsetOf(p))
	}
	resp, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("read %s: list offsets on brokers %s: %w", topic, cfg.brokerList(), err)
	}
	first, end := map[int]int64{}, map[int]int64{}
	for _, po := range resp.Topics[topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("read %s: list offsets of partition %d on brokers %s: %w", topic, po.Partition, cfg.brokerList(), po.Error)
		}
		first[po.Partition], end[po.Partition] = po.FirstOffset, po.LastOffset
	}
	for p := range n {
		if err := readPartition(ctx, client, topic, p, first[p], end[p], fn); err != nil {
			if cb, ok := err.(callbackError); ok {
				return end, cb.err
			}
			return end, fmt.Errorf("read %s on brokers %s: %w", topic, cfg.brokerList(), err)
		}
	}
	return end, nil
}

// callbackError carries fn's error out of readPartition unchanged.
type callbackError struct{ err error }

func (c callbackError) Error() string { return c.err.Error() }

// readPartition fetches partition p's records in [next, end) and calls fn
// with each.
func readPartition(ctx context.Context, client *kafka.Client, topic string, p int, next, end int64, fn func(Record) error) error {
	empty := 0
	for next < end {
		resp, err := client.Fetch(ctx, &kafka.FetchRequest{Topic: topic, Partition: p, Offset: next,
			MinBytes: 1, MaxBytes: DefaultFetchBytes, MaxWait: 500 * time.Millisecond})
		if err == nil {
			err = resp.Error
		}
		if err != nil {
			return fmt.Errorf("fetch partition %d at offset %d: %w", p, next, err)
		}
		recs, err := decodeRecords(resp, topic, p, next)
		if err != nil {
			return fmt.Errorf("decode partition %d at offset %d: %w", p, next, err)
		}
		if len(recs) == 0 {
			if empty++; empty >= maxEmptyFetches {
				return fmt.Errorf("partition %d: no record between offset %d and the snapshot's end %d after %d fetches", p, next, end, empty)
			}
			continue
		}
		empty = 0
		for _, r := range recs {
			if r.Offset >= end {
				return nil
			}
			if err := fn(r); err != nil {
				return callbackError{err}
			}
		}
		next = recs[len(recs)-1].Offset + 1
	}
	return nil
}
