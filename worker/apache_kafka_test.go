package main

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/nerstream/nerstream/internal/apachekafka"
)

// brokerKind selects the broker an end-to-end test runs against.
type brokerKind string

const (
	kfakeBroker  brokerKind = "kfake"  // internal/broker: in-process, one per test
	apacheBroker brokerKind = "apache" // Apache Kafka (scripts/apache-kafka.sh): one per test binary
)

// brokerKinds is the broker matrix of the tests that run on both.
var brokerKinds = []brokerKind{kfakeBroker, apacheBroker}

func TestMain(m *testing.M) {
	code := m.Run()
	if err := apachekafka.StopShared(code != 0); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

var topicUnsafe = regexp.MustCompile(`[^a-zA-Z0-9_-]+`)

// apacheTopic creates a topic of this test's own with partitions partitions
// on the shared Apache Kafka and returns the brokers and the topic.
func apacheTopic(t *testing.T, partitions int) ([]string, string) {
	t.Helper()
	k := apachekafka.Shared(t)
	topic := "docs-" + topicUnsafe.ReplaceAllString(t.Name(), "-")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := k.CreateTopic(ctx, topic, partitions); err != nil {
		t.Fatalf("create topic %s on Apache Kafka %v: %v", topic, k.Addrs(), err)
	}
	return k.Addrs(), topic
}
