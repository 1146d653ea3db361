package queue

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/segmentio/kafka-go"
)

// ConsumedTopics asks the brokers which topics the consumer group consumes:
// the topics its live members subscribe to (DescribeGroups) and the topics
// it has committed offsets for (OffsetFetch for all topics). The result is
// sorted and without duplicates; a group that does not exist yet consumes
// nothing. The worker refuses a dead-letter topic in this list: its dead
// letters would be consumed by the same group and dead-lettered again.
func (g *Group) ConsumedTopics(ctx context.Context) ([]string, error) {
	topics, err := g.consumedTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("consumer group %q: topics it consumes, from brokers %s: %w", g.groupID, g.cfg.brokerList(), err)
	}
	return topics, nil
}

func (g *Group) consumedTopics(ctx context.Context) ([]string, error) {
	var topics []string
	var dg *kafka.DescribeGroupsResponse
	err := retryCoordinator(ctx, func() error {
		var err error
		if dg, err = g.client.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{g.groupID}}); err != nil {
			return err
		}
		for _, gr := range dg.Groups {
			if gr.Error != nil && !errors.Is(gr.Error, kafka.GroupIdNotFound) {
				return gr.Error
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("describe group: %w", err)
	}
	for _, gr := range dg.Groups {
		for _, m := range gr.Members {
			topics = append(topics, m.MemberMetadata.Topics...)
		}
	}
	var of *kafka.OffsetFetchResponse
	err = retryCoordinator(ctx, func() error {
		var err error
		if of, err = g.client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: g.groupID}); err != nil {
			return err
		}
		if of.Error != nil && !errors.Is(of.Error, kafka.GroupIdNotFound) {
			return of.Error
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("committed offsets: %w", err)
	}
	for t := range of.Topics {
		topics = append(topics, t)
	}
	slices.Sort(topics)
	return slices.Compact(topics), nil
}
