package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nerstream/nerstream/internal/broker"
	"github.com/nerstream/nerstream/internal/metrics"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestBrokerRestartMidRun stops the broker while two workers stream, keeps
// it down, restarts it on the same address with the same data, and
// publishes the rest: the workers recover without a restart of their own,
// and the output holds every chunk exactly once. On kfake (the embedded
// broker with its data directory) and on Apache Kafka (a node of this
// test's own, stopped and started again by scripts/apache-kafka.sh on its
// directory). The outage is NERSTREAM_BROKER_DOWN_SECONDS long (default 5;
// the one minute with 60).
func TestBrokerRestartMidRun(t *testing.T) {
	for _, kind := range brokerKinds {
		t.Run(string(kind), func(t *testing.T) { testBrokerRestartMidRun(t, kind) })
	}
}

func testBrokerRestartMidRun(t *testing.T, kind brokerKind) {
	down := time.Duration(soakParam("NERSTREAM_BROKER_DOWN_SECONDS", 5)) * time.Second
	var c *cluster
	var stop, restart func()
	switch kind {
	case kfakeBroker:
		dataDir := filepath.Join(t.TempDir(), "kafka")
		start := func(port int) *broker.Broker {
			opts := []broker.Option{broker.WithPort(port), broker.WithDataDir(dataDir),
				broker.WithPartitions(4), broker.WithGroupMinSessionTimeout(500 * time.Millisecond)}
			if port == 0 { // first start creates the topic; a restart finds it in the data directory
				opts = append(opts, broker.WithTopic("docs", 4))
			}
			b, err := broker.Start(context.Background(), opts...)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		c = newCluster(t, 4)
		c.b.Close() // replace the default broker by one with a data directory
		c.b = start(0)
		c.addrs = c.b.Addrs()
		_, portStr, _ := net.SplitHostPort(c.addrs[0])
		port, _ := strconv.Atoi(portStr)
		stop = func() {
			if err := c.b.Close(); err != nil {
				t.Fatal(err)
			}
		}
		restart = func() {
			b := start(port)
			c.b = b
			t.Cleanup(func() { b.Close() })
		}
	case apacheBroker:
		k := apacheCluster(t, 1)
		c = newClusterAt(t, nil, k.Addrs(), "docs")
		stop = func() {
			if err := k.Stop(); err != nil {
				t.Fatal(err)
			}
		}
		restart = func() {
			start := time.Now()
			if err := k.StartStopped(context.Background()); err != nil {
				t.Fatal(err)
			}
			t.Logf("Apache Kafka restarted on %s in %.1fs", k.Addrs()[0], time.Since(start).Seconds())
		}
	}
	docs := testDocs(t, 120)
	c.startWorker(0)
	c.startWorker(1)
	c.waitJoined(0, 60*time.Second)
	c.waitJoined(1, 60*time.Second)
	c.publish(docs[:60], 2, 0)
	c.waitRows(ids(docs[:60]), 120*time.Second)
	stop()
	time.Sleep(down) // the outage itself (not a wait for an event)
	restart()
	c.publish(docs[60:], 2, 0)
	rows := c.waitRows(ids(docs), 180*time.Second)
	// The workers recovered on their own: each was started exactly once.
	for i := range 2 {
		log, _ := os.ReadFile(filepath.Join(filepath.Dir(c.out), fmt.Sprintf("worker-%d.log", i)))
		if n := strings.Count(string(log), `"msg":"worker running"`); n != 1 {
			t.Fatalf("worker %d started %d times", i, n)
		}
		// ... and said what happened, naming the broker.
		if !strings.Contains(string(log), `"level":"WARN"`) || !strings.Contains(string(log), c.addrs[0]) {
			t.Fatalf("worker %d logged no warning naming the broker during the outage", i)
		}
	}
	c.stopAll()
	checkExactlyOnce(t, rows, docs, 2)
}

// TestDroppedBrokerConnections has the broker close the connection of the
// workers' next fetch, offset, heartbeat and commit requests (as a
// flaky network or a load balancer would) in two waves while two workers
// stream: they recover without a restart of their own, count the failures in
// nerstream_broker_errors_total, warn naming the broker, and the output holds
// every chunk exactly once.
func TestDroppedBrokerConnections(t *testing.T) {
	c := newCluster(t, 4)
	docs := testDocs(t, 80)
	c.startWorker(0)
	c.startWorker(1)
	c.waitJoined(0, 60*time.Second)
	c.waitJoined(1, 60*time.Second)
	// Not Metadata or Produce: the test's own publisher needs those.
	keys := []int16{kmsg.Fetch.Int16(), kmsg.ListOffsets.Int16(), kmsg.Heartbeat.Int16(), kmsg.OffsetCommit.Int16()}
	wave1 := c.b.DropConnections(12, keys...)
	c.publish(docs[:40], 2, 0)
	c.waitRows(ids(docs[:40]), 120*time.Second)
	wave2 := c.b.DropConnections(12, keys...)
	c.publish(docs[40:], 2, 0)
	rows := c.waitRows(ids(docs), 120*time.Second)
	if wave1() == 0 || wave2() == 0 {
		t.Fatalf("dropped %d and %d connections: the faults never hit", wave1(), wave2())
	}
	var errs float64
	for i := range 2 {
		c.mu.Lock()
		addr := c.metrics[i]
		c.mu.Unlock()
		s, err := metrics.Scrape(context.Background(), addr)
		if err != nil {
			t.Fatal(err)
		}
		errs += s[metrics.NameBrokerErrors]
		log, _ := os.ReadFile(filepath.Join(filepath.Dir(c.out), fmt.Sprintf("worker-%d.log", i)))
		if n := strings.Count(string(log), `"msg":"worker running"`); n != 1 {
			t.Fatalf("worker %d started %d times", i, n)
		}
	}
	if errs == 0 {
		t.Fatalf("%s is 0 on both workers after %d dropped connections", metrics.NameBrokerErrors, wave1()+wave2())
	}
	t.Logf("%d connections dropped; %s = %v across the workers", wave1()+wave2(), metrics.NameBrokerErrors, errs)
	c.stopAll()
	checkExactlyOnce(t, rows, docs, 2)
}
