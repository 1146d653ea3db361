package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nerstream/nerstream/internal/metrics"
)

// TestHugeRecordsWorkerPeakRSS is the memory probe of the reliability issue
// against a real `worker run` process: six records of a few tens of KB on
// the wire (zstd) whose values each expand to 200 MiB (one document of
// 200 MiB of text in a batch, far over --max-batch-bytes) are each split
// into a per-document dead letter; the worker stays up, and its peak RSS
// (VmHWM of the process, model included) must stay under 1 GiB. It prints
// the figure. Set NERSTREAM_MEM_TEST=1 to run it (`make bench-memory`): the
// test process builds each 200 MiB value in memory to publish it.
func TestHugeRecordsWorkerPeakRSS(t *testing.T) {
	if os.Getenv("NERSTREAM_MEM_TEST") == "" {
		t.Skip("set NERSTREAM_MEM_TEST=1 (make bench-memory)")
	}
	const records, size = 6, 200 << 20
	c := newCluster(t, 1)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.b.Addrs()...), kgo.ProducerBatchCompression(kgo.ZstdCompression()),
		kgo.ProducerBatchMaxBytes(size+(1<<20)), kgo.MaxBufferedBytes(size+(2<<20)), kgo.BrokerMaxWriteBytes(size+(4<<20)), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for i := range records {
		id := "huge-" + strconv.Itoa(i)
		head := `{"schema_version":1,"id":"` + id + `","source":{"file":"f","first":0,"last":0},"documents":[{"id":"` + id + `","text":"`
		v := make([]byte, 0, len(head)+size+8)
		v = append(v, head...)
		v = append(v, strings.Repeat("x", size)...)
		v = append(v, `"}]}`...)
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: c.topic, Value: v}).FirstErr(); err != nil {
			t.Fatalf("publish record %d: %v", i, err)
		}
	}
	cl.Close()
	c.startWorker(0)
	c.waitMetric(0, metrics.NameDeadLetters, records, 4*time.Minute)
	c.mu.Lock()
	pid := c.workers[0].Process.Pid
	c.mu.Unlock()
	peak := vmHWM(pid) << 10 // kB → bytes
	if peak == 0 {
		t.Fatalf("no VmHWM for worker process %d", pid)
	}
	c.signal(0, syscall.SIGTERM)
	t.Logf("six records expanding to 200 MiB each, split into dead letters by a worker run process: peak RSS %d MiB", peak>>20)
	fmt.Printf("worker peak RSS %d MiB (six 200 MiB-expanding records, %s)\n", peak>>20, testModel)
	if peak > 1<<30 {
		t.Fatalf("worker peak RSS %d MiB, want under 1 GiB", peak>>20)
	}
}
