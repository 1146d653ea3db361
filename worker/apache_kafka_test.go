package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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

// apacheCluster starts an Apache Kafka cluster of nodes nodes of this test's
// own (for a test that stops or kills brokers), with the topic "docs" of 4
// partitions; it is stopped when the test ends, its logs kept on failure.
func apacheCluster(t *testing.T, nodes int, extraConfig ...string) *apachekafka.Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("Apache Kafka tests skipped in -short mode")
	}
	dir, err := os.MkdirTemp("", "nerstream-apache-kafka-")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	k, err := apachekafka.Start(ctx, filepath.Join(dir, "cluster"), nodes, extraConfig...)
	if err != nil {
		os.RemoveAll(dir)
		t.Fatalf("%v\n(run `make setup` for Java, Maven and the Kafka jars)", err)
	}
	t.Cleanup(func() {
		if err := k.Stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("Apache Kafka logs kept in %s", k.Dir)
		} else {
			os.RemoveAll(dir)
		}
	})
	t.Logf("Apache Kafka (%d nodes) of this test started at %s in %.1fs", nodes, k.Addrs()[0], k.StartTime.Seconds())
	if err := k.CreateTopic(ctx, "docs", 4); err != nil {
		t.Fatalf("create topic docs on Apache Kafka %v: %v", k.Addrs(), err)
	}
	return k
}
