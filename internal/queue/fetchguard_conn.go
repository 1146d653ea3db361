package queue

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
)

// guardConn is a connection of the consumer's transport: requests pass
// unchanged (their headers are noted), non-Fetch responses pass unchanged,
// and each Fetch response is read whole and checked by the fetchGuard
// before kafka-go reads it.
type guardConn struct {
	net.Conn
	fg *fetchGuard

	wmu     sync.Mutex
	reqs    frameRequests
	fetches map[int32]int16 // correlation id → Fetch version, awaiting a response

	out      []byte // checked bytes not yet read by kafka-go
	passLeft int64  // bytes of a non-Fetch response still to pass through
}

func (c *guardConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	c.reqs.observe(p, func(corr int32, version int16) { c.fetches[corr] = version })
	c.wmu.Unlock()
	return c.Conn.Write(p)
}

func (c *guardConn) Read(p []byte) (int, error) {
	if len(c.out) > 0 {
		n := copy(p, c.out)
		c.out = c.out[n:]
		return n, nil
	}
	if c.passLeft > 0 {
		if int64(len(p)) > c.passLeft {
			p = p[:c.passLeft]
		}
		n, err := c.Conn.Read(p)
		c.passLeft -= int64(n)
		return n, err
	}
	if err := c.nextResponse(); err != nil {
		return 0, err
	}
	return c.Read(p)
}

// nextResponse reads the next response's size and correlation id and
// either sets it up to pass through or reads and checks a Fetch response.
func (c *guardConn) nextResponse() error {
	var hdr [8]byte
	if _, err := io.ReadFull(c.Conn, hdr[:]); err != nil {
		return err
	}
	size := int64(int32(binary.BigEndian.Uint32(hdr[0:4])))
	corr := int32(binary.BigEndian.Uint32(hdr[4:8]))
	c.wmu.Lock()
	version, isFetch := c.fetches[corr]
	delete(c.fetches, corr)
	c.wmu.Unlock()
	if !isFetch || version >= 12 || size < 4 { // kafka-go speaks Fetch v11 at most
		c.out, c.passLeft = hdr[:], max(size-4, 0)
		return nil
	}
	if size > c.fg.maxResponse {
		return fmt.Errorf("%w: fetch response of %d bytes exceeds the %d-byte bound", ErrCorruptBatch, size, c.fg.maxResponse)
	}
	frame := make([]byte, 4+size)
	copy(frame, hdr[:])
	if _, err := io.ReadFull(c.Conn, frame[8:]); err != nil {
		return err
	}
	checked, err := c.fg.checkResponse(version, frame[8:])
	if err != nil {
		return err
	}
	if checked != nil { // rewritten
		frame = binary.BigEndian.AppendUint32(frame[:0:0], uint32(len(checked)+4))
		frame = append(append(frame, hdr[4:8]...), checked...)
	}
	c.out = frame
	return nil
}
