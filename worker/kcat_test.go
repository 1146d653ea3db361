package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/nerstream/nerstream/internal/apachekafka"
	"github.com/nerstream/nerstream/internal/document"
	"github.com/nerstream/nerstream/internal/queue"
	"github.com/nerstream/nerstream/internal/testcert"
)

// kcat (librdkafka) is a second, independent Kafka client: it must read what
// the producer and the dead-letter writer wrote (kafka-go, zstd), and see the
// offsets the worker committed.

func kcatBinary(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("kcat not installed (make setup installs Debian's kcat): %v", err)
		}
		t.Skipf("kcat not installed (run make setup): %v", err)
	}
	return p
}

// kcatMessage is one line of kcat -J output.
type kcatMessage struct {
	Topic     string   `json:"topic"`
	Partition int      `json:"partition"`
	Offset    int64    `json:"offset"`
	Key       *string  `json:"key"`
	Payload   *string  `json:"payload"`
	Headers   []string `json:"headers"` // name, value, name, value, …
}

func (m kcatMessage) header(name string) (string, bool) {
	for i := 0; i+1 < len(m.Headers); i += 2 {
		if m.Headers[i] == name {
			return m.Headers[i+1], true
		}
	}
	return "", false
}

func runKcat(t *testing.T, stdin []byte, args ...string) []kcatMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcatBinary(t), args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat %v: %v\n%s", args, err, stderr.String())
	}
	var msgs []kcatMessage
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		var m kcatMessage
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("kcat output line %q: %v", line, err)
		}
		msgs = append(msgs, m)
	}
	return msgs
}

// TestKcatReadsTopicsAndOffsets: documents, a poison record and a batch with
// one invalid document go through a worker; kcat then reads the document
// topic (decoding every batch), the dead-letter topic with its headers, and
// resumes the worker's consumer group from the committed offsets; on kfake
// and on Apache Kafka.
func TestKcatReadsTopicsAndOffsets(t *testing.T) {
	kcatBinary(t)
	for _, kind := range brokerKinds {
		t.Run(string(kind), func(t *testing.T) { testKcatReadsTopicsAndOffsets(t, kind) })
	}
}

func testKcatReadsTopicsAndOffsets(t *testing.T, kind brokerKind) {
	c := newClusterOn(t, kind, 4)
	docs := testDocs(t, 24)
	c.publish(docs, 3, 0)

	pub, err := queue.NewPublisher(context.Background(), c.addrs, c.topic)
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(context.Background(), queue.Message{Key: []byte("poison"), Value: []byte("not a batch")}); err != nil {
		t.Fatal(err)
	}
	bad := document.Batch{SchemaVersion: document.SchemaVersion, ID: "bad-doc-batch", Source: document.Source{File: "kcat", First: 0, Last: 1},
		Documents: []document.Document{{ID: "ok-1", Text: "IL-2 binds its receptor.", Version: 1}, {ID: "drop-me", Text: "no id", Version: 1}}}
	v, err := document.EncodeBatch(&bad)
	if err != nil {
		t.Fatal(err)
	}
	// The encoder refuses invalid documents: make the second one invalid on
	// the wire, as a foreign producer could.
	v = bytes.Replace(v, []byte(`"id":"drop-me"`), []byte(`"id":""`), 1)
	if !bytes.Contains(v, []byte(`"id":""`)) {
		t.Fatalf("could not blank the document id in %s", v)
	}
	if err := pub.Publish(context.Background(), queue.Message{Key: []byte(bad.ID), Value: v}); err != nil {
		t.Fatal(err)
	}
	pub.Close()

	c.startWorker(0)
	c.waitCovered(modelDir(t), 120*time.Second)
	c.stopAll()
	hwm := c.hwm()
	addr := strings.Join(c.addrs, ",")

	// 1. The document topic: every record, every batch decodes, keys are batch ids.
	msgs := runKcat(t, nil, "-b", addr, "-C", "-t", c.topic, "-o", "beginning", "-e", "-q", "-J")
	var total int64
	for _, h := range hwm {
		total += h
	}
	if int64(len(msgs)) != total {
		t.Fatalf("kcat read %d records from %s, high-water marks %v", len(msgs), c.topic, hwm)
	}
	seen := map[string]bool{}
	var poison, badRec kcatMessage
	for _, m := range msgs {
		if m.Key == nil || m.Payload == nil {
			t.Fatalf("record %s/%d@%d without key or payload", m.Topic, m.Partition, m.Offset)
		}
		if *m.Key == "poison" {
			poison = m
			continue
		}
		if *m.Key == bad.ID {
			badRec = m
		}
		b, err := document.DecodeBatch([]byte(*m.Payload), document.DefaultLimits())
		if b == nil {
			t.Fatalf("kcat's copy of %d@%d does not decode: %v", m.Partition, m.Offset, err)
		}
		if err != nil && *m.Key != bad.ID {
			t.Fatalf("kcat's copy of %d@%d: %v", m.Partition, m.Offset, err)
		}
		if b.ID != *m.Key {
			t.Fatalf("record %d@%d: key %q, batch id %q", m.Partition, m.Offset, *m.Key, b.ID)
		}
		for _, d := range b.Documents {
			seen[d.ID] = true
		}
	}
	for _, d := range docs {
		if !seen[d.ID] {
			t.Fatalf("document %s not found by kcat", d.ID)
		}
	}

	// 2. The dead-letter topic: the poison record whole, the bad document alone.
	dl := runKcat(t, nil, "-b", addr, "-C", "-t", c.topic+".dlq", "-o", "beginning", "-e", "-q", "-J")
	if len(dl) != 2 {
		t.Fatalf("kcat read %d dead letters, want 2: %+v", len(dl), dl)
	}
	var wholeOK, docOK bool
	for _, m := range dl {
		errText, ok := m.header(queue.HeaderError)
		if !ok || errText == "" {
			t.Fatalf("dead letter %d without %s header: %v", m.Offset, queue.HeaderError, m.Headers)
		}
		topic, _ := m.header(queue.HeaderSourceTopic)
		part, _ := m.header(queue.HeaderSourcePartition)
		off, _ := m.header(queue.HeaderSourceOffset)
		if topic != c.topic {
			t.Fatalf("dead letter source topic %q, want %q", topic, c.topic)
		}
		p, _ := strconv.Atoi(part)
		o, _ := strconv.ParseInt(off, 10, 64)
		if m.Payload != nil && *m.Payload == "not a batch" {
			if p != poison.Partition || o != poison.Offset {
				t.Fatalf("poison dead letter says %s/%s@%s, kcat found it at %d@%d", topic, part, off, poison.Partition, poison.Offset)
			}
			wholeOK = true
			continue
		}
		if m.Payload != nil && strings.Contains(*m.Payload, "no id") {
			if p != badRec.Partition || o != badRec.Offset {
				t.Fatalf("document dead letter says %s/%s@%s, kcat found its batch at %d@%d", topic, part, off, badRec.Partition, badRec.Offset)
			}
			docOK = true
		}
		t.Logf("dead letter: error %q, source %s/%s@%s, headers %v", errText, topic, part, off, m.Headers)
	}
	if !wholeOK || !docOK {
		t.Fatalf("dead letters: poison record %v, invalid document %v; got %+v", wholeOK, docOK, dl)
	}

	// 3. The group's committed offsets, as librdkafka sees them: append one
	// record per partition with kcat, then consume as the worker's group
	// with offset reset to earliest. Only the new records may come back, at
	// exactly the committed offsets (= the old high-water marks).
	for p := range hwm {
		runKcat(t, []byte("after-commit\n"), "-b", addr, "-P", "-t", c.topic, "-p", strconv.Itoa(p), "-k", fmt.Sprintf("kcat-%d", p))
	}
	resumed := runKcat(t, nil, "-b", addr, "-G", c.group, "-X", "auto.offset.reset=earliest", "-X", "enable.auto.commit=false",
		"-e", "-q", "-J", c.topic)
	if len(resumed) != len(hwm) {
		t.Fatalf("consuming as group %s returned %d records, want one per partition (%d): %+v", c.group, len(resumed), len(hwm), resumed)
	}
	for _, m := range resumed {
		if m.Payload == nil || *m.Payload != "after-commit" || m.Offset != hwm[m.Partition] {
			t.Fatalf("group %s resumed partition %d at offset %d (%v), committed should be %d", c.group, m.Partition, m.Offset, m.Payload, hwm[m.Partition])
		}
	}
	t.Logf("kcat: %d records on %s, %d dead letters, group %s resumed at %v", len(msgs), c.topic, len(dl), c.group, hwm)
}

// TestKcatMutualTLS: librdkafka connects to the broker over mutual TLS with
// the same CA and the kind of client certificate the worker uses, reads what
// kafka-go published, and is refused without its certificate — the TLS
// settings agree between two independent client implementations. On kfake
// and on Apache Kafka (the shared secure node's SSL listener, a PEM key
// store).
func TestKcatMutualTLS(t *testing.T) {
	kcatBinary(t)
	for _, kind := range brokerKinds {
		t.Run(string(kind), func(t *testing.T) { testKcatMutualTLS(t, kind) })
	}
}

func testKcatMutualTLS(t *testing.T, kind brokerKind) {
	var (
		ca    *testcert.CA
		cli   testcert.Pair
		addrs []string
		topic = "sec"
	)
	switch kind {
	case kfakeBroker:
		dir := t.TempDir()
		var err error
		if ca, err = testcert.NewCA(dir, "ca"); err != nil {
			t.Fatal(err)
		}
		srv, err := ca.Server("broker")
		if err != nil {
			t.Fatal(err)
		}
		if cli, err = ca.Client("kcat"); err != nil {
			t.Fatal(err)
		}
		kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(testcert.ServerTLS(srv, ca)), kfake.SeedTopics(1, topic))
		if err != nil {
			t.Fatal(err)
		}
		defer kc.Close()
		addrs = kc.ListenAddrs()
	case apacheBroker:
		sec := apachekafka.SharedSecure(t)
		ca, cli, addrs, topic = sec.CA, sec.Client, sec.SSLAddrs(), "sec-mtls"
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := sec.CreateTopic(ctx, topic, 1); err != nil {
			t.Fatal(err)
		}
	}
	cfg := queue.Config{Brokers: addrs, TLSCAFile: ca.CertFile, TLSCertFile: cli.CertFile, TLSKeyFile: cli.KeyFile}
	publishThree(t, cfg, topic)
	tlsArgs := []string{"-b", strings.Join(addrs, ","), "-X", "security.protocol=SSL", "-X", "ssl.ca.location=" + ca.CertFile}
	withCert := append(slices.Clone(tlsArgs), "-X", "ssl.certificate.location="+cli.CertFile, "-X", "ssl.key.location="+cli.KeyFile)
	checkThree(t, runKcat(t, nil, append(withCert, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-J")...), "mutual TLS")
	out, err := kcatFails(t, append(tlsArgs, "-L", "-m", "5")...)
	// kfake (Go) sends "certificate required", the JVM "bad certificate".
	if err == nil || !(strings.Contains(out, "certificate required") || strings.Contains(out, "bad certificate")) || !strings.Contains(out, addrs[0]) {
		t.Fatalf("kcat without a client certificate: err %v, want a refusal for the missing certificate naming %s:\n%s", err, addrs[0], out)
	}
	t.Logf("kcat over mutual TLS: 3 records; without a client certificate: %s", lineWith(out, "certificate"))
}

// TestKcatSASLSCRAM: on Apache Kafka's SASL_SSL listener, librdkafka reads
// what kafka-go published with SCRAM-SHA-256 and with SCRAM-SHA-512 (both
// clients with the client certificate the listener requires), commits as a
// group and kafka-go's offset lookup sees the commit; with a wrong password
// kcat is refused with an authentication error naming the broker. (kfake
// cannot serve kcat SASL at all: it implements SaslHandshake v1 only, and
// Debian's librdkafka 2.0.2 asks for v0 first.)
//
// librdkafka before 2.6.1 sends a wrong nonce in its SCRAM client-final
// message, which Kafka 4 refuses as invalid credentials (reported fixed in
// librdkafka 2.6.1).
// With such a librdkafka (Debian 12 ships 2.0.2) against Kafka 4.x, the test
// checks exactly that: every SCRAM attempt of kcat is refused with "invalid
// credentials" naming the broker while kafka-go, with the same user and
// password, publishes; a newer librdkafka or an older broker gets the full
// check.
func TestKcatSASLSCRAM(t *testing.T) {
	kcatBinary(t)
	sec := apachekafka.SharedSecure(t)
	topic := "sec-scram"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := sec.CreateTopic(ctx, topic, 1); err != nil {
		t.Fatal(err)
	}
	addrs := sec.SASLSSLAddrs()
	cfg := queue.Config{Brokers: addrs, TLSCAFile: sec.CA.CertFile, TLSCertFile: sec.Client.CertFile, TLSKeyFile: sec.Client.KeyFile,
		SASLMechanism: queue.SASLScramSHA512, SASLUsername: sec.User, SASLPassword: sec.Password}
	publishThree(t, cfg, topic)
	args := func(mech, password string) []string {
		return []string{"-b", strings.Join(addrs, ","), "-X", "security.protocol=SASL_SSL", "-X", "ssl.ca.location=" + sec.CA.CertFile,
			"-X", "ssl.certificate.location=" + sec.Client.CertFile, "-X", "ssl.key.location=" + sec.Client.KeyFile,
			"-X", "sasl.mechanisms=" + mech, "-X", "sasl.username=" + sec.User, "-X", "sasl.password=" + password}
	}
	refused := func(out string) bool {
		return strings.Contains(out, "due to invalid credentials") && strings.Contains(out, addrs[0])
	}
	rdk, broker := librdkafkaVersion(t), sec.Version()
	if versionLess(rdk, "2.6.1") && !versionLess(broker, "4.0.0") {
		for _, mech := range []string{"SCRAM-SHA-256", "SCRAM-SHA-512"} {
			out, err := kcatFails(t, append(args(mech, sec.Password), "-L", "-m", "3", "-t", topic)...)
			if err == nil || !refused(out) {
				t.Fatalf("kcat (librdkafka %s) %s against Apache Kafka %s: err %v, want the known refusal as invalid credentials naming %s:\n%s",
					rdk, mech, broker, err, addrs[0], out)
			}
		}
		t.Logf("kcat's librdkafka %s (< 2.6.1) is refused by Apache Kafka %s over SCRAM-SHA-256 and -512 (invalid credentials) while kafka-go authenticates with the same user and password; full kcat SCRAM check needs librdkafka >= 2.6.1 or Kafka 3.x",
			rdk, broker)
		return
	}
	for _, mech := range []string{"SCRAM-SHA-256", "SCRAM-SHA-512"} {
		checkThree(t, runKcat(t, nil, append(args(mech, sec.Password), "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-J")...), mech)
	}
	// A group consume over SCRAM commits where it stopped; the product's
	// client reads that commit back over SCRAM too.
	group := "kcat-scram"
	checkThree(t, runKcat(t, nil, append(args("SCRAM-SHA-256", sec.Password), "-G", group, "-X", "auto.offset.reset=earliest",
		"-e", "-q", "-J", topic)...), "group over SCRAM-SHA-256")
	tr, err := cfg.Transport()
	if err != nil {
		t.Fatal(err)
	}
	client := &kafka.Client{Addr: kafka.TCP(addrs...), Transport: tr}
	resp, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: {0}}})
	if err != nil || resp.Error != nil || len(resp.Topics[topic]) != 1 {
		t.Fatalf("committed offsets of group %s over SCRAM: %+v, %v", group, resp, err)
	}
	if committed := resp.Topics[topic][0].CommittedOffset; committed != 3 {
		t.Fatalf("group %s committed %d over SCRAM, want 3", group, committed)
	}
	out, err := kcatFails(t, append(args("SCRAM-SHA-512", "wrong-"+sec.Password), "-L", "-m", "5")...)
	if err == nil || !refused(out) {
		t.Fatalf("kcat with a wrong SCRAM password: err %v, want an authentication failure naming %s:\n%s", err, addrs[0], out)
	}
	t.Logf("kcat (librdkafka %s) over SASL_SSL to Apache Kafka %s: 3 records with each SCRAM hash, group %s committed 3; wrong password: %s",
		rdk, broker, group, lineWith(out, "invalid credentials"))
}

// librdkafkaVersion returns the librdkafka version kcat -V reports.
func librdkafkaVersion(t *testing.T) string {
	t.Helper()
	out, _ := exec.Command(kcatBinary(t), "-V").CombinedOutput()
	_, after, ok := strings.Cut(string(out), "librdkafka ")
	if !ok {
		t.Fatalf("kcat -V names no librdkafka version:\n%s", out)
	}
	return strings.Fields(after)[0]
}

// versionLess compares dotted numeric versions ("2.0.2" < "2.6.1").
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(as), len(bs)); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

// publishThree publishes k0..k2 → v0..v2 to topic with the product's publisher.
func publishThree(t *testing.T, cfg queue.Config, topic string) {
	t.Helper()
	pub, err := queue.NewPublisher(context.Background(), nil, topic, queue.WithConfig(cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	for i := range 3 {
		if err := pub.Publish(context.Background(), queue.Message{Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
}

// checkThree checks that kcat read what publishThree wrote, in order.
func checkThree(t *testing.T, msgs []kcatMessage, how string) {
	t.Helper()
	if len(msgs) != 3 {
		t.Fatalf("kcat read %d records over %s, want 3: %+v", len(msgs), how, msgs)
	}
	for i, m := range msgs {
		if m.Payload == nil || *m.Payload != fmt.Sprintf("v%d", i) {
			t.Fatalf("record %d over %s: %+v", i, how, m)
		}
	}
}

// kcatFails runs kcat expecting a failure and returns its output.
func kcatFails(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, kcatBinary(t), args...).CombinedOutput()
	return string(out), err
}

// lineWith returns the first line of out containing sub, or out's last line.
func lineWith(out, sub string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, sub) {
			return strings.TrimSpace(l)
		}
	}
	return lastLine([]byte(out))
}
