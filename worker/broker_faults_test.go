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
)

// TestBrokerRestartMidRun stops the embedded broker (kfake with its data
// directory) while two workers stream, keeps it down, restarts it on the same
// address with the same data, and publishes the rest: the workers recover
// without a restart of their own, and the output holds every chunk exactly
// once. The outage is NERSTREAM_BROKER_DOWN_SECONDS long (default 5; the
// issue's one minute with 60).
func TestBrokerRestartMidRun(t *testing.T) {
	down := time.Duration(soakParam("NERSTREAM_BROKER_DOWN_SECONDS", 5)) * time.Second
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
	c := newCluster(t, 4)
	c.b.Close() // replace the default broker by one with a data directory
	b := start(0)
	c.b = b
	_, portStr, _ := net.SplitHostPort(b.Addrs()[0])
	port, _ := strconv.Atoi(portStr)
	docs := testDocs(t, 120)
	c.startWorker(0)
	c.startWorker(1)
	c.waitJoined(0, 60*time.Second)
	c.waitJoined(1, 60*time.Second)
	c.publish(docs[:60], 2, 0)
	c.waitRows(ids(docs[:60]), 120*time.Second)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(down) // the outage itself (not a wait for an event)
	b = start(port)
	c.b = b
	t.Cleanup(func() { b.Close() })
	c.publish(docs[60:], 2, 0)
	rows := c.waitRows(ids(docs), 180*time.Second)
	// The workers recovered on their own: each was started exactly once.
	for i := range 2 {
		log, _ := os.ReadFile(filepath.Join(filepath.Dir(c.out), fmt.Sprintf("worker-%d.log", i)))
		if n := strings.Count(string(log), `"msg":"worker running"`); n != 1 {
			t.Fatalf("worker %d started %d times", i, n)
		}
		// ... and said what happened, naming the broker.
		if !strings.Contains(string(log), `"level":"WARN"`) || !strings.Contains(string(log), "127.0.0.1:"+portStr) {
			t.Fatalf("worker %d logged no warning naming the broker during the outage", i)
		}
	}
	c.stopAll()
	checkExactlyOnce(t, rows, docs, 2)
}
