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

	"github.com/twmb/franz-go/pkg/kfake"

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
// settings agree between two independent client implementations.
//
// SASL is not part of it: kfake implements SaslHandshake v1 only (as Kafka 4
// does, KIP-896), and Debian's librdkafka 2.0.2 enables SASL only when the
// broker lists SaslHandshake v0 ("SASL Handshake not supported by broker").
// SASL PLAIN/SCRAM are tested with kafka-go in internal/queue.
func TestKcatMutualTLS(t *testing.T) {
	kcatBinary(t)
	dir := t.TempDir()
	ca, err := testcert.NewCA(dir, "ca")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.Server("broker")
	if err != nil {
		t.Fatal(err)
	}
	cli, err := ca.Client("kcat")
	if err != nil {
		t.Fatal(err)
	}
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(testcert.ServerTLS(srv, ca)), kfake.SeedTopics(1, "sec"))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	cfg := queue.Config{Brokers: kc.ListenAddrs(), TLSCAFile: ca.CertFile, TLSCertFile: cli.CertFile, TLSKeyFile: cli.KeyFile}
	pub, err := queue.NewPublisher(context.Background(), nil, "sec", queue.WithConfig(cfg))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := pub.Publish(context.Background(), queue.Message{Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	pub.Close()
	tlsArgs := []string{"-b", strings.Join(kc.ListenAddrs(), ","), "-X", "security.protocol=SSL", "-X", "ssl.ca.location=" + ca.CertFile}
	withCert := append(slices.Clone(tlsArgs), "-X", "ssl.certificate.location="+cli.CertFile, "-X", "ssl.key.location="+cli.KeyFile)
	msgs := runKcat(t, nil, append(withCert, "-C", "-t", "sec", "-o", "beginning", "-e", "-q", "-J")...)
	if len(msgs) != 3 {
		t.Fatalf("kcat read %d records over mutual TLS, want 3: %+v", len(msgs), msgs)
	}
	for i, m := range msgs {
		if m.Payload == nil || *m.Payload != fmt.Sprintf("v%d", i) {
			t.Fatalf("record %d: %+v", i, m)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, kcatBinary(t), append(tlsArgs, "-L", "-m", "3")...).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "certificate required") {
		t.Fatalf("kcat without a client certificate: err %v, want a refusal for the missing certificate:\n%s", err, out)
	}
	t.Logf("kcat over mutual TLS: 3 records; without a client certificate: %s", strings.TrimSpace(string(out)))
}
