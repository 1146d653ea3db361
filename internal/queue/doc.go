// Package queue is nerstream's only Kafka-aware package: it publishes
// document batches, runs the worker's consumer-group membership, writes
// dead letters, and holds the connection settings shared by the producer,
// the worker and the deployment manifests.
//
// It is built on github.com/segmentio/kafka-go.
//
//   - [Publisher] writes synchronously (acks=all), zstd-compressed, with a
//     hash balancer on the key, and creates its topic when missing.
//   - [Group] uses kafka-go's low-level ConsumerGroup/Generation API rather
//     than kafka.Reader, so that the [Handler] chooses the start offset of
//     every assigned partition itself: the worker's object storage is the
//     source of truth for progress, and group commits ([Group.Commit]) only
//     feed lag monitoring and the FromCommitted default. Each owned
//     partition gets its own fetch loop; a blocking Handler.Records is
//     backpressure for that partition only. Every callback receives the
//     partition's [Partition] handle (Commit, HighWatermark), as franz-go's
//     callbacks receive the client, so a handler is complete when built and
//     never needs the Group; package queuetest has a fake handle for
//     handler tests without a broker. With [WithOwner], every commit carries
//     the owner (the worker's model version) as offset metadata, and a
//     group whose committed offsets carry another owner is refused by
//     Ping, by Run before joining and at each assignment ([ErrForeignOwner]).
//   - Every Fetch response of a [Group] passes a guard in its transport's
//     connections before kafka-go decodes it: record counts, lengths and
//     header counts larger than the bytes behind them are refused
//     ([ErrCorruptBatch], the partition reports itself stuck), and
//     decompressed bytes are bounded per fetch as a whole
//     ([WithMaxFetchDecompressedBytes]). [Group.ConsumedTopics] lists the
//     topics a group consumes.
//   - [DeadLetter] forwards a failed record with nerstream-* headers that
//     name the source topic, partition, offset, cause and time.
//   - [Config] carries brokers, TLS and SASL (plain, SCRAM-SHA-256/512);
//     [Config.RegisterFlags] gives every command the same flags, and
//     config.Parse their NERSTREAM_* environment twins. [EnsureTopic] creates topics.
//
// # Rebalances
//
// When the group rebalances, kafka-go ends the generation: every partition
// context is cancelled, each fetch loop returns after its current
// Handler.Records call, Handler.Revoked runs, and only then does the member
// rejoin. A handler that blocks past the rebalance timeout is dropped from
// the group by the coordinator, so Records must honour ctx.
//
// # Failure behaviour
//
// Constructors fail fast, with the broker list in the error, when no broker
// is reachable (bounded by Config.DialTimeout). [Group.Run] retries broker
// failures forever (logging each at warn level) and returns only when its
// context ends or the handler returns an error.
package queue
