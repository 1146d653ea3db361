// Package apachekafka runs Apache Kafka for tests, as separate JVM processes
// started by scripts/apache-kafka.sh (the version docker-compose.yml pins,
// resolved from Maven Central by `make setup`). Nothing of Kafka is linked in:
// the tests talk to it over the wire with the same clients as against the
// embedded kfake broker (internal/broker).
//
// A test binary shares one cluster between all its tests ([Shared]): a start
// costs seconds, so each test uses its own topics and groups on it instead.
// The package's TestMain calls [StopShared]; should the test binary die
// first, the script stops the cluster by itself once the process is gone.
package apachekafka

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nerstream/nerstream/internal/queue"
)

// Cluster is a running Apache Kafka cluster started by the script.
type Cluster struct {
	Dir       string        // the nodes' configuration, data and logs
	Port      int           // first broker port; node i listens on Port+i-1
	Nodes     int           // number of combined controller+broker nodes
	StartTime time.Duration // how long the start took (until metadata answered)

	script string
	env    []string // extra script environment (secure listeners, SCRAM users)
}

// Script returns the path of scripts/apache-kafka.sh, found by walking up
// from the working directory to the module root.
func Script() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "scripts", "apache-kafka.sh"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("apachekafka: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Start starts a cluster of nodes nodes under dir on free loopback ports.
// extraConfig lines are appended to every node's server.properties. The
// cluster stops by itself when this process exits; call [Cluster.Stop]
// to stop it earlier.
func Start(ctx context.Context, dir string, nodes int, extraConfig ...string) (*Cluster, error) {
	return start(ctx, dir, nodes, 0, nil, extraConfig)
}

// start starts a cluster with listeners extra listeners per node beyond
// PLAINTEXT and CONTROLLER, env added to the script's environment.
func start(ctx context.Context, dir string, nodes, listeners int, env, extraConfig []string) (*Cluster, error) {
	script, err := Script()
	if err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePorts((2 + listeners) * nodes)
		if err != nil {
			return nil, err
		}
		c := &Cluster{Dir: dir, Port: port, Nodes: nodes, script: script, env: env}
		start := time.Now()
		cmd := exec.CommandContext(ctx, script, "start", dir, strconv.Itoa(port), strconv.Itoa(nodes))
		cmd.Env = append(append(os.Environ(), env...), "APACHE_KAFKA_WATCH_PID="+strconv.Itoa(os.Getpid()),
			"APACHE_KAFKA_CONFIG="+strings.Join(extraConfig, "\n"))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err == nil {
			c.StartTime = time.Since(start)
			if got, want := strings.TrimSpace(string(out)), c.Addrs()[0]; got != want {
				c.Stop()
				return nil, fmt.Errorf("apachekafka: %s printed %q, want %q", script, got, want)
			}
			return c, nil
		}
		lastErr = fmt.Errorf("apachekafka: %s start %s %d %d: %v\n%s", script, dir, port, nodes, err, stderr.Bytes())
		// A port taken between freePorts and the JVM's bind is worth another
		// try on fresh ports (and a fresh directory: the old one holds the
		// old ports); anything else is not.
		if !strings.Contains(stderr.String(), "Address already in use") {
			break
		}
		dir = fmt.Sprintf("%s.%d", strings.TrimRight(c.Dir, "/"), attempt+1)
	}
	return nil, lastErr
}

// freePorts returns the first of n consecutive loopback ports that were all
// free just now.
func freePorts(n int) (int, error) {
	for try := 0; try < 50; try++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		first := l.Addr().(*net.TCPAddr).Port
		ls := []net.Listener{l}
		ok := first+n-1 <= 65535
		for p := first + 1; ok && p < first+n; p++ {
			lp, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
			if err != nil {
				ok = false
				break
			}
			ls = append(ls, lp)
		}
		for _, l := range ls {
			l.Close()
		}
		if ok {
			return first, nil
		}
	}
	return 0, fmt.Errorf("apachekafka: no %d consecutive free loopback ports", n)
}

// Addrs returns the brokers' client addresses.
func (c *Cluster) Addrs() []string {
	out := make([]string, c.Nodes)
	for i := range out {
		out[i] = "127.0.0.1:" + strconv.Itoa(c.Port+i)
	}
	return out
}

// Version returns the Apache Kafka version node 1 reports in its log
// ("Kafka version: 4.1.0"), or "unknown".
func (c *Cluster) Version() string {
	b, _ := os.ReadFile(filepath.Join(c.Dir, "node-1", "server.log"))
	if _, after, ok := bytes.Cut(b, []byte("Kafka version: ")); ok {
		if v, _, ok := bytes.Cut(after, []byte("\n")); ok {
			return strings.TrimSpace(strings.Split(string(v), " ")[0])
		}
	}
	return "unknown"
}

// CreateTopic creates topic with partitions partitions, replicated on every
// node, through the product's own queue.EnsureTopic.
func (c *Cluster) CreateTopic(ctx context.Context, topic string, partitions int) error {
	return queue.EnsureTopic(ctx, queue.Config{Brokers: c.Addrs()}, topic, partitions, c.Nodes)
}

// Stop stops every node and waits for the processes to exit. It is safe to
// call more than once.
func (c *Cluster) Stop() error {
	out, err := exec.Command(c.script, "stop", c.Dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("apachekafka: stop %s: %v\n%s", c.Dir, err, out)
	}
	return nil
}

// StartStopped starts the cluster's stopped nodes again on the same ports
// with their data (all of them after [Cluster.Stop]: a broker restart; one
// after [Cluster.Kill]: a node restart) and returns once every node is
// listed in a metadata response.
func (c *Cluster) StartStopped(ctx context.Context, extraConfig ...string) error {
	cmd := exec.CommandContext(ctx, c.script, "start", c.Dir, strconv.Itoa(c.Port), strconv.Itoa(c.Nodes))
	cmd.Env = append(append(os.Environ(), c.env...), "APACHE_KAFKA_WATCH_PID="+strconv.Itoa(os.Getpid()),
		"APACHE_KAFKA_CONFIG="+strings.Join(extraConfig, "\n"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if _, err := cmd.Output(); err != nil {
		return fmt.Errorf("apachekafka: %s start %s %d %d: %v\n%s", c.script, c.Dir, c.Port, c.Nodes, err, stderr.Bytes())
	}
	return nil
}

// PID returns the process id of node (1-based), or an error when it is not
// running.
func (c *Cluster) PID(node int) (int, error) {
	b, err := os.ReadFile(filepath.Join(c.Dir, fmt.Sprintf("node-%d", node), "pid"))
	if err != nil {
		return 0, fmt.Errorf("apachekafka: node %d of %s is not running: %w", node, c.Dir, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || !running(pid) {
		return 0, fmt.Errorf("apachekafka: node %d of %s (pid file %q) is not running", node, c.Dir, b)
	}
	return pid, nil
}

// running reports whether process pid exists and is not a zombie (the
// nodes' parent, the script, has exited, so whoever adopted them reaps them).
func running(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	_, after, ok := strings.Cut(string(b), ") ")
	return !ok || !strings.HasPrefix(after, "Z")
}

// Kill sends sig to node (1-based) and, for SIGKILL and SIGTERM, waits
// until the process has exited.
func (c *Cluster) Kill(node int, sig syscall.Signal) error {
	pid, err := c.PID(node)
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, sig); err != nil {
		return fmt.Errorf("apachekafka: signal %v to node %d (pid %d): %w", sig, node, pid, err)
	}
	if sig != syscall.SIGKILL && sig != syscall.SIGTERM {
		return nil
	}
	deadline := time.Now().Add(30 * time.Second)
	for running(pid) {
		if time.Now().After(deadline) {
			return fmt.Errorf("apachekafka: node %d (pid %d) still runs 30s after %v", node, pid, sig)
		}
		time.Sleep(20 * time.Millisecond)
	}
	os.Remove(filepath.Join(c.Dir, fmt.Sprintf("node-%d", node), "pid"))
	return nil
}

// MessageMaxBytes is the shared cluster's message.max.bytes, set
// explicitly (it is Kafka's default): the largest record batch it accepts.
const MessageMaxBytes = 1048588

var (
	sharedMu   sync.Mutex
	shared     *Cluster
	sharedErr  error
	sharedDir  string
	sharedDone bool
)

// Shared returns this process's single-node cluster, starting it on first
// use (in a temporary directory removed by [StopShared]). Tests skip it in
// -short mode. A cluster that cannot start fails every test that asks for
// it, with the script's output.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("Apache Kafka tests skipped in -short mode")
	}
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared == nil && sharedErr == nil {
		if sharedDone {
			sharedErr = errors.New("apachekafka: Shared called after StopShared")
		} else {
			sharedDir, sharedErr = os.MkdirTemp("", "nerstream-apache-kafka-")
			if sharedErr == nil {
				shared, sharedErr = Start(context.Background(), filepath.Join(sharedDir, "cluster"), 1,
					"message.max.bytes="+strconv.Itoa(MessageMaxBytes))
			}
			if sharedErr == nil {
				t.Logf("Apache Kafka %s started at %s in %.1fs (logs in %s)", shared.Version(), shared.Addrs()[0], shared.StartTime.Seconds(), shared.Dir)
			}
		}
	}
	if sharedErr != nil {
		t.Fatalf("%v\n(run `make setup` for Java, Maven and the Kafka jars)", sharedErr)
	}
	return shared
}

// StopShared stops the shared clusters ([Shared], [SharedSecure]) that were
// started and removes their directories unless keepLogs (e.g. a failed run,
// so its logs can be read).
func StopShared(keepLogs bool) error {
	secErr := stopSharedSecure(keepLogs)
	sharedMu.Lock()
	defer sharedMu.Unlock()
	sharedDone = true
	var err error
	if shared != nil {
		err = shared.Stop()
	}
	if sharedDir != "" && !keepLogs {
		os.RemoveAll(sharedDir)
	}
	return errors.Join(err, secErr)
}

// client returns a franz-go client on the cluster's brokers, for the
// metadata and quorum requests below.
func (c *Cluster) client() (*kgo.Client, error) {
	return kgo.NewClient(kgo.SeedBrokers(c.Addrs()...), kgo.RetryTimeout(5*time.Second))
}

// PartitionState is a partition's leader and in-sync replicas (node ids,
// which are the 1-based node numbers of the script).
type PartitionState struct {
	Leader int
	ISR    []int
}

// Partition returns the leader and ISR of topic's partition as the
// brokers' metadata shows them now (Leader -1: none).
func (c *Cluster) Partition(ctx context.Context, topic string, partition int) (PartitionState, error) {
	cl, err := c.client()
	if err != nil {
		return PartitionState{}, err
	}
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return PartitionState{}, fmt.Errorf("apachekafka: metadata of %s from %v: %w", topic, c.Addrs(), err)
	}
	for _, t := range resp.Topics {
		if t.Topic == nil || *t.Topic != topic {
			continue
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return PartitionState{}, fmt.Errorf("apachekafka: metadata of %s from %v: %w", topic, c.Addrs(), err)
		}
		for _, p := range t.Partitions {
			if int(p.Partition) != partition {
				continue
			}
			st := PartitionState{Leader: int(p.Leader)}
			if kerr.ErrorForCode(p.ErrorCode) == kerr.LeaderNotAvailable {
				st.Leader = -1
			}
			for _, r := range p.ISR {
				st.ISR = append(st.ISR, int(r))
			}
			return st, nil
		}
	}
	return PartitionState{}, fmt.Errorf("apachekafka: no partition %s/%d in the metadata from %v", topic, partition, c.Addrs())
}

// ActiveController returns the node id of the active KRaft controller (the
// leader of the metadata quorum), from DescribeQuorum.
func (c *Cluster) ActiveController(ctx context.Context) (int, error) {
	cl, err := c.client()
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	req := kmsg.NewPtrDescribeQuorumRequest()
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = "__cluster_metadata"
	rp := kmsg.NewDescribeQuorumRequestTopicPartition()
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0, fmt.Errorf("apachekafka: describe quorum on %v: %w", c.Addrs(), err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return 0, fmt.Errorf("apachekafka: describe quorum on %v: %w", c.Addrs(), err)
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return 0, fmt.Errorf("apachekafka: describe quorum on %v: %w", c.Addrs(), err)
			}
			return int(p.LeaderID), nil
		}
	}
	return 0, fmt.Errorf("apachekafka: describe quorum on %v: no partition in the answer", c.Addrs())
}
