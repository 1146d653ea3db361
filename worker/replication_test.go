package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nerstream/nerstream/internal/apachekafka"
	"github.com/nerstream/nerstream/internal/metrics"
	"github.com/nerstream/nerstream/internal/queue"
)

// replicationConfig makes a 3-node Apache Kafka notice a dead node within
// seconds (the defaults: 9 s to fence a broker, 30 s to drop a lagging
// replica from the ISR).
var replicationConfig = []string{"broker.session.timeout.ms=3000", "broker.heartbeat.interval.ms=500",
	"replica.lag.time.max.ms=10000"}

// TestReplicationFaults runs two workers on a 3-node Apache Kafka cluster
// (replication factor 3, min.insync.replicas=2; every publish is acks=all)
// and, mid-run, SIGKILLs the leader of a busy partition and restarts it
// (leader), stops a follower of it with SIGTERM and restarts it (follower),
// or SIGKILLs the active KRaft controller and restarts it (controller).
// Documents are published before the fault, while the node is down and
// after it is back; one poison record is dead-lettered. In each case the
// output is exactly once and equal to `worker annotate`, the dead letter is
// written, and neither worker restarts. `make test` runs the leader case;
// NERSTREAM_REPLICATION_FAULTS=all (make replication-faults) runs all three.
func TestReplicationFaults(t *testing.T) {
	cases := []string{"leader"}
	if os.Getenv("NERSTREAM_REPLICATION_FAULTS") == "all" {
		cases = []string{"leader", "follower", "controller"}
	}
	k := apacheCluster(t, 3, replicationConfig...)
	for _, fault := range cases {
		t.Run(fault, func(t *testing.T) { testReplicationFault(t, k, fault) })
	}
}

func testReplicationFault(t *testing.T, k *apachekafka.Cluster, fault string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	topic := "docs-" + fault
	if err := k.CreateTopic(ctx, topic, 4); err != nil {
		t.Fatalf("create topic %s on Apache Kafka %v: %v", topic, k.Addrs(), err)
	}
	c := newClusterAt(t, nil, k.Addrs(), topic)
	const busy = 0 // the partition whose leader or follower is hit
	waitState := func(what string, ok func(apachekafka.PartitionState) bool) (apachekafka.PartitionState, time.Duration) {
		t.Helper()
		start := time.Now()
		var st apachekafka.PartitionState
		var err error
		for time.Since(start) < 90*time.Second {
			if st, err = k.Partition(ctx, topic, busy); err == nil && ok(st) {
				return st, time.Since(start)
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("partition %s/%d: %s not reached within 90s (last state %+v, %v)", topic, busy, what, st, err)
		return st, 0
	}
	full, _ := waitState("3 in-sync replicas", func(s apachekafka.PartitionState) bool { return s.Leader > 0 && len(s.ISR) == 3 })

	docs := testDocs(t, 120)
	const per = 2
	c.startWorker(0)
	c.startWorker(1)
	c.waitJoined(0, 60*time.Second)
	c.waitJoined(1, 60*time.Second)
	pub, err := queue.NewPublisher(ctx, c.addrs, topic)
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx, queue.Message{Key: []byte("poison"), Value: []byte("not a batch")}); err != nil {
		t.Fatal(err)
	}
	pub.Close()
	c.publish(docs[:50], per, 0)
	c.waitMetric(0, metrics.NameRecords, 2, 60*time.Second) // mid-run: the workers are consuming

	var node int
	var sig syscall.Signal
	switch fault {
	case "leader":
		node, sig = full.Leader, syscall.SIGKILL
	case "follower":
		for _, r := range full.ISR {
			if r != full.Leader {
				node = r
				break
			}
		}
		sig = syscall.SIGTERM
	case "controller":
		if node, err = k.ActiveController(ctx); err != nil {
			t.Fatal(err)
		}
		sig = syscall.SIGKILL
	}
	killed := time.Now()
	if err := k.Kill(node, sig); err != nil {
		t.Fatal(err)
	}
	// The cluster has moved on without the node: the busy partition has a
	// live leader and the node is out of its ISR (fenced or shut down).
	after, took := waitState(fmt.Sprintf("node %d out of the ISR", node), func(s apachekafka.PartitionState) bool {
		return s.Leader > 0 && s.Leader != node && !slices.Contains(s.ISR, node) && len(s.ISR) >= 2
	})
	figures := fmt.Sprintf("%s fault: node %d %v; partition %d leader %d→%d, ISR %v→%v after %.1fs", fault, node, sig, busy,
		full.Leader, after.Leader, full.ISR, after.ISR, took.Seconds())
	if fault == "controller" {
		start := time.Now()
		for {
			ctl, err := k.ActiveController(ctx)
			if err == nil && ctl != node && ctl > 0 {
				figures += fmt.Sprintf("; controller %d→%d after %.1fs", node, ctl, time.Since(start).Seconds()+took.Seconds())
				break
			}
			if time.Since(start) > 90*time.Second {
				t.Fatalf("no new active controller within 90s of killing node %d (%v)", node, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// acks=all publishes with one node down (2 in-sync replicas ≥ min.insync.replicas).
	c.publish(docs[50:90], per, 0)
	restart := time.Now()
	if err := k.StartStopped(ctx, replicationConfig...); err != nil {
		t.Fatal(err)
	}
	waitState(fmt.Sprintf("node %d back in the ISR", node), func(s apachekafka.PartitionState) bool { return len(s.ISR) == 3 })
	figures += fmt.Sprintf("; node %d restarted and back in the ISR after %.1fs", node, time.Since(restart).Seconds())
	c.publish(docs[90:], per, 0)
	rows := c.waitRows(ids(docs), 180*time.Second)
	figures += fmt.Sprintf("; all %d documents stored %.1fs after the fault", len(docs), time.Since(killed).Seconds())
	for i := range 2 {
		log, _ := os.ReadFile(filepath.Join(filepath.Dir(c.out), fmt.Sprintf("worker-%d.log", i)))
		if n := strings.Count(string(log), `"msg":"worker running"`); n != 1 {
			t.Fatalf("worker %d started %d times", i, n)
		}
	}
	dl, err := queue.HighWatermarks(ctx, queue.Config{Brokers: c.addrs}, topic+".dlq")
	if err != nil || dl[0] != 1 {
		t.Fatalf("dead-letter topic %s.dlq: high-water marks %v (%v), want the poison record", topic, dl, err)
	}
	dlState, err := k.Partition(ctx, topic+".dlq", 0)
	if err != nil || len(dlState.ISR) != 3 {
		t.Fatalf("the worker's dead-letter topic %s.dlq: ISR %v (%v), want the cluster's 3 replicas", topic, dlState.ISR, err)
	}
	figures += fmt.Sprintf("; the dead letter written (%s.dlq ISR %v)", topic, dlState.ISR)
	c.stopAll()
	checkExactlyOnce(t, rows, docs, per)
	t.Logf("replication: %s", figures)
}
