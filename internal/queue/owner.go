package queue

import (
	"context"
	"errors"
	"fmt"

	"github.com/segmentio/kafka-go"
)

// ErrForeignOwner is wrapped by the error of [Group.Ping] and [Group.Run]
// when a committed offset of the group carries another owner than the one
// set with [WithOwner].
var ErrForeignOwner = errors.New("committed offsets belong to another owner")

// maxOwnerBytes is Kafka's default offset.metadata.max.bytes: a longer
// metadata string is refused by the broker at every commit.
const maxOwnerBytes = 4096

// WithOwner names what this member's commits mean (the worker passes its
// model name and version). Every commit carries owner as the committed
// offset's metadata, and a partition whose committed offset carries a
// different, non-empty owner is refused: [Group.Ping], and [Group.Run]
// before it joins, check every partition of the topic, and each assignment
// checks its partition again before the [Handler] sees it (another owner
// may have committed meanwhile); each fails (Run returns) with an error
// wrapping [ErrForeignOwner] that names both owners. A committed offset without metadata (committed by an older
// version, or reset with an admin tool) is accepted and gets owner at the
// next commit. Empty, the default, commits without metadata and checks
// nothing. At most 4096 bytes, Kafka's default offset.metadata.max.bytes.
func WithOwner(owner string) GroupSetting { return func(g *groupOptions) { g.owner = owner } }

// checkOwner fetches the group's committed offsets of partitions and
// returns an error wrapping ErrForeignOwner when one carries another
// owner's metadata. Other errors are broker failures, worth a retry.
func (g *Group) checkOwner(ctx context.Context, partitions []int) error {
	if g.o.owner == "" || len(partitions) == 0 {
		return nil
	}
	var resp *kafka.OffsetFetchResponse
	err := retryCoordinator(ctx, func() error {
		var err error
		resp, err = g.client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{
			GroupID: g.groupID, Topics: map[string][]int{g.topic: partitions},
		})
		if err == nil {
			err = resp.Error
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("read committed offsets of group %q on brokers %s: %w", g.groupID, g.cfg.brokerList(), err)
	}
	for _, p := range resp.Topics[g.topic] {
		if p.Error != nil {
			return fmt.Errorf("read committed offset of group %q partition %d: %w", g.groupID, p.Partition, p.Error)
		}
		if p.CommittedOffset < 0 || p.Metadata == "" || p.Metadata == g.o.owner {
			continue
		}
		return fmt.Errorf("consumer group %q, topic %s partition %d: committed offset %d was committed by %q, and this member is %q: %w",
			g.groupID, g.topic, p.Partition, p.CommittedOffset, p.Metadata, g.o.owner, ErrForeignOwner)
	}
	return nil
}

// checkAllOwners checks the owners of the topic's n partitions: an error
// wraps ErrForeignOwner; a broker failure is only logged, since each
// assignment checks its partition again.
func (g *Group) checkAllOwners(ctx context.Context, n int) error {
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	err := g.checkOwner(ctx, all)
	if err != nil && !errors.Is(err, ErrForeignOwner) {
		g.logger.Warn("could not read the owners of the committed offsets; each assignment checks again", "err", err)
		return nil
	}
	return err
}

// awaitOwner runs checkOwner for one partition until it answers, retrying
// broker failures; it returns nil when ctx ends first.
func (g *Group) awaitOwner(ctx context.Context, partition int) error {
	for {
		err := g.checkOwner(ctx, []int{partition})
		switch {
		case err == nil || errors.Is(err, ErrForeignOwner):
			return err
		case ctx.Err() != nil:
			return nil
		}
		g.brokerError("offsets")
		g.logger.Warn("reading the committed offset's owner failed; retrying", "partition", partition, "err", err)
		sleep(ctx, g.o.retryBackoff)
	}
}
