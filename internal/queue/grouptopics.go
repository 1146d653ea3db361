package queue

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"
)

// ConsumedTopics asks the brokers which topics the consumer group consumes:
// the topics its live members subscribe to (DescribeGroups) and the topics
// it has committed offsets for (OffsetFetch for all topics). The result is
// sorted and without duplicates; a group that does not exist yet consumes
// nothing. The worker refuses a dead-letter topic in this list: its dead
// letters would be consumed by the same group and dead-lettered again.
//
// Errors the broker marks as temporary (a coordinator still loading or
// moving: a fresh Apache Kafka answers NOT_COORDINATOR until its offsets
// topic exists) are retried for up to [consumedTopicsPatience].
func (g *Group) ConsumedTopics(ctx context.Context) ([]string, error) {
	deadline := time.Now().Add(consumedTopicsPatience)
	topics, err := g.consumedTopics(ctx)
	for err != nil && temporary(err) && time.Now().Before(deadline) && ctx.Err() == nil {
		g.logger.Info("reading the topics the group consumes: coordinator not ready; retrying", "err", err)
		sleep(ctx, g.o.retryBackoff)
		topics, err = g.consumedTopics(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("consumer group %q: topics it consumes, from brokers %s: %w", g.groupID, g.cfg.brokerList(), err)
	}
	return topics, nil
}

// consumedTopicsPatience bounds the retries of [Group.ConsumedTopics].
const consumedTopicsPatience = 30 * time.Second

// temporary reports whether err carries a Kafka error code the broker marks
// as retriable.
func temporary(err error) bool {
	var kerr kafka.Error
	return errors.As(err, &kerr) && kerr.Temporary()
}

func (g *Group) consumedTopics(ctx context.Context) ([]string, error) {
	var topics []string
	dg, err := g.client.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{g.groupID}})
	if err != nil {
		return nil, fmt.Errorf("describe group: %w", err)
	}
	for _, gr := range dg.Groups {
		if gr.Error != nil && !errors.Is(gr.Error, kafka.GroupIdNotFound) {
			return nil, fmt.Errorf("describe group: %w", gr.Error)
		}
		for _, m := range gr.Members {
			topics = append(topics, m.MemberMetadata.Topics...)
		}
	}
	of, err := g.client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: g.groupID})
	if err != nil {
		return nil, fmt.Errorf("committed offsets: %w", err)
	}
	if of.Error != nil && !errors.Is(of.Error, kafka.GroupIdNotFound) {
		return nil, fmt.Errorf("committed offsets: %w", of.Error)
	}
	for t := range of.Topics {
		topics = append(topics, t)
	}
	slices.Sort(topics)
	return slices.Compact(topics), nil
}
