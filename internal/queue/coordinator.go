package queue

import (
	"context"
	"errors"
	"time"

	"github.com/segmentio/kafka-go"
)

// coordinatorWait bounds how long a group request retries while the group's
// coordinator is not ready.
const coordinatorWait = 30 * time.Second

// coordinatorNotReady reports the errors Apache Kafka answers a group request
// with while the group's coordinator is elected or loads its state: on a new
// cluster the first group request creates __consumer_offsets, and until its
// partition has a leader that has loaded it, DescribeGroups and OffsetFetch
// return NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE or
// COORDINATOR_LOAD_IN_PROGRESS. They pass; kfake never returns them.
func coordinatorNotReady(err error) bool {
	return errors.Is(err, kafka.NotCoordinatorForGroup) || errors.Is(err, kafka.GroupCoordinatorNotAvailable) ||
		errors.Is(err, kafka.GroupLoadInProgress)
}

// retryCoordinator runs fn until it returns an error other than
// coordinatorNotReady, or for at most coordinatorWait (or until ctx ends),
// and returns fn's last error.
func retryCoordinator(ctx context.Context, fn func() error) error {
	deadline := time.Now().Add(coordinatorWait)
	backoff := 100 * time.Millisecond
	for {
		err := fn()
		if err == nil || !coordinatorNotReady(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}
