package raftstore

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Commands are the records the store appends to the Raft log. Each starts with a type byte and
// a version byte. Types and versions are append-only: a released encoding is never changed, a
// new shape gets a new version, and a new type a new number. A type with ignoreUnknownFlag set
// may be skipped by members that do not know it; any other unknown type halts the state
// machine (see ErrHalted) rather than letting members diverge.
type commandType uint8

const (
	cmdTxn     commandType = 1 // txnCommand
	cmdCompact commandType = 2 // compactCommand

	// ignoreUnknownFlag marks command types that older members may safely skip.
	ignoreUnknownFlag commandType = 0x80
)

const (
	// txnVersion1 is a transaction without per-op guards; it is still decoded, no longer written.
	txnVersion1 = 1
	// txnVersion2 adds a list of guard compares to every op.
	txnVersion2     = 2
	compactVersion1 = 1
)

// requestID identifies a proposal so that a retry after an unknown outcome applies at most once.
type requestID [16]byte

// CompareTarget is what a Compare checks.
type CompareTarget uint8

const (
	// CompareExists holds when the key exists.
	CompareExists CompareTarget = iota + 1
	// CompareAbsent holds when the key does not exist.
	CompareAbsent
	// CompareModRevision holds when the key exists and its ModRevision equals Value.
	CompareModRevision
	// CompareVersion holds when the key exists and its Version equals Value.
	CompareVersion
)

// Compare is a precondition of a transaction.
type Compare struct {
	Key    string
	Target CompareTarget
	Value  uint64
}

// Exists returns a Compare that holds when key exists.
func Exists(key string) Compare { return Compare{Key: key, Target: CompareExists} }

// Absent returns a Compare that holds when key does not exist.
func Absent(key string) Compare { return Compare{Key: key, Target: CompareAbsent} }

// ModRevisionIs returns a Compare that holds when key exists with the given ModRevision.
func ModRevisionIs(key string, rev uint64) Compare {
	return Compare{Key: key, Target: CompareModRevision, Value: rev}
}

// VersionIs returns a Compare that holds when key exists with the given Version.
func VersionIs(key string, version uint64) Compare {
	return Compare{Key: key, Target: CompareVersion, Value: version}
}

// OpType is the kind of an Op.
type OpType uint8

const (
	// OpPut writes a value.
	OpPut OpType = iota + 1
	// OpDelete deletes a key; deleting an absent key succeeds and changes nothing.
	OpDelete
)

// Op is one write of a transaction.
type Op struct {
	Type  OpType
	Key   string
	Value []byte
	// If guards this op alone: when one of its compares fails the op is skipped (its
	// OpResult says so) and the rest of the transaction still applies. Guards see the state
	// before the transaction.
	If []Compare
}

// Put returns an Op writing value under key.
func Put(key string, value []byte) Op { return Op{Type: OpPut, Key: key, Value: value} }

// Delete returns an Op deleting key.
func Delete(key string) Op { return Op{Type: OpDelete, Key: key} }

// Txn is an atomic transaction: if every Compare holds, every Op whose own guards (Op.If) hold
// is applied at one revision; otherwise nothing is. A key may appear in at most one Op.
type Txn struct {
	Compares []Compare
	Ops      []Op
}

// TxnResult is the outcome of a transaction.
type TxnResult struct {
	// Revision is the revision of the log entry that decided the transaction: the new
	// ModRevision of every key it wrote when it succeeded.
	Revision uint64
	// Succeeded reports whether every compare held and the ops were applied.
	Succeeded bool
	// FailedCompare is the index of the first compare that failed, or -1.
	FailedCompare int
	// FailedKV is the state of the failed compare's key at Revision, when HasFailedKV is set
	// (a retried request answered from the deduplication table does not carry it).
	FailedKV    KeyValue
	HasFailedKV bool
	// FailedKVExists reports whether that key existed.
	FailedKVExists bool
	// Ops holds one result per op when the transaction succeeded.
	Ops []OpResult
}

// OpResult is the outcome of one Op.
type OpResult struct {
	// Skipped reports that one of the op's guards failed and the op was not applied.
	Skipped bool
	// Existed reports whether the key existed before the op.
	Existed bool
	// CreateRevision and Version are the key's after a put.
	CreateRevision uint64
	Version        uint64
}

// txnCommand is the log record of a transaction.
type txnCommand struct {
	id       requestID
	proposed int64 // proposer's wall clock, unix milliseconds; used only to expire dedup entries
	// quota is the proposer's QuotaBytes (0 for none). It travels in the command so that every
	// member applies the same limit whatever its own configuration.
	quota int64
	txn   Txn
}

// compactCommand is the log record of a compaction.
type compactCommand struct {
	revision uint64
}

// errDecode is wrapped by every decoding error.
var errDecode = errors.New("decode command")

// encodeTxn encodes a transaction command.
func encodeTxn(c *txnCommand) []byte {
	n := 2 + len(c.id) + binary.MaxVarintLen64*4
	for _, cmp := range c.txn.Compares {
		n += 1 + binary.MaxVarintLen64*2 + len(cmp.Key)
	}
	for _, op := range c.txn.Ops {
		n += 1 + binary.MaxVarintLen64*3 + len(op.Key) + len(op.Value)
		for _, cmp := range op.If {
			n += 1 + binary.MaxVarintLen64*2 + len(cmp.Key)
		}
	}
	b := make([]byte, 0, n)
	b = append(b, byte(cmdTxn), txnVersion2)
	b = append(b, c.id[:]...)
	b = binary.AppendVarint(b, c.proposed)
	b = binary.AppendVarint(b, c.quota)
	b = appendCompares(b, c.txn.Compares)
	b = binary.AppendUvarint(b, uint64(len(c.txn.Ops)))
	for _, op := range c.txn.Ops {
		b = append(b, byte(op.Type))
		b = appendString(b, op.Key)
		if op.Type == OpPut {
			b = binary.AppendUvarint(b, uint64(len(op.Value)))
			b = append(b, op.Value...)
		}
		b = appendCompares(b, op.If)
	}
	return b
}

func appendCompares(b []byte, compares []Compare) []byte {
	b = binary.AppendUvarint(b, uint64(len(compares)))
	for _, cmp := range compares {
		b = append(b, byte(cmp.Target))
		b = appendString(b, cmp.Key)
		b = binary.AppendUvarint(b, cmp.Value)
	}
	return b
}

func encodeCompact(c *compactCommand) []byte {
	b := []byte{byte(cmdCompact), compactVersion1}
	return binary.AppendUvarint(b, c.revision)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decoder reads a command. Values it returns alias the input, which the store never modifies.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", errDecode, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) < 1 {
		d.fail("truncated")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail("length %d exceeds the %d bytes left", n, len(d.b))
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// count reads a collection length and checks that the remaining input could hold it, so that
// garbage cannot make the decoder allocate without bound.
func (d *decoder) count(minItemSize int) int {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)/minItemSize) {
		d.fail("count %d exceeds what %d bytes can hold", n, len(d.b))
		return 0
	}
	return int(n)
}

// decodeCommand decodes a log record. It returns an error, never panics, for any input.
func decodeCommand(data []byte) (any, error) {
	d := &decoder{b: data}
	typ, ver := commandType(d.byte()), d.byte()
	if d.err != nil {
		return nil, d.err
	}
	var cmd any
	switch {
	case typ == cmdTxn && (ver == txnVersion1 || ver == txnVersion2):
		cmd = d.txn(ver)
	case typ == cmdCompact && ver == compactVersion1:
		cmd = &compactCommand{revision: d.uvarint()}
	default:
		return nil, &unknownCommandError{typ: typ, version: ver}
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return nil, d.err
	}
	return cmd, nil
}

func (d *decoder) txn(version uint8) *txnCommand {
	c := &txnCommand{}
	if len(d.b) < len(c.id) {
		d.fail("truncated request ID")
		return nil
	}
	copy(c.id[:], d.b)
	d.b = d.b[len(c.id):]
	c.proposed = d.varint()
	c.quota = d.varint()
	c.txn.Compares = d.compares()
	if n := d.count(2); n > 0 {
		c.txn.Ops = make([]Op, n)
		for i := range c.txn.Ops {
			op := &c.txn.Ops[i]
			op.Type = OpType(d.byte())
			op.Key = string(d.bytes())
			if op.Type == OpPut {
				op.Value = d.bytes()
			}
			if version >= txnVersion2 {
				op.If = d.compares()
			}
		}
	}
	return c
}

func (d *decoder) compares() []Compare {
	n := d.count(3)
	if n == 0 {
		return nil
	}
	out := make([]Compare, n)
	for i := range out {
		out[i] = Compare{Target: CompareTarget(d.byte()), Key: string(d.bytes()), Value: d.uvarint()}
	}
	return out
}

// unknownCommandError reports a command type or version this binary does not know.
type unknownCommandError struct {
	typ     commandType
	version uint8
}

func (e *unknownCommandError) Error() string {
	return fmt.Sprintf("unknown command type %d version %d", e.typ, e.version)
}

// ignorable reports whether members that do not know the command may skip it.
func (e *unknownCommandError) ignorable() bool { return e.typ&ignoreUnknownFlag != 0 }

// txnLimits are the limits validateTxn enforces.
type txnLimits struct {
	maxOps, maxValueSize int
}

// unlimited checks a transaction's shape only.
var unlimited = txnLimits{maxOps: int(^uint(0) >> 1), maxValueSize: int(^uint(0) >> 1)}

// validateTxn checks a transaction. The proposer checks it against its configured limits; the
// state machine checks the shape again without limits, because members may be configured
// differently and must all reach the same verdict.
func validateTxn(t *Txn, limits txnLimits) error {
	if len(t.Ops) > limits.maxOps || len(t.Compares) > limits.maxOps {
		return fmt.Errorf("%w: %d ops and %d compares; the limit is %d each", ErrRequestTooLarge, len(t.Ops), len(t.Compares), limits.maxOps)
	}
	for i, c := range t.Compares {
		if c.Key == "" {
			return fmt.Errorf("%w: compare %d has an empty key", ErrInvalidRequest, i)
		}
		if c.Target < CompareExists || c.Target > CompareVersion {
			return fmt.Errorf("%w: compare %d on %q has unknown target %d", ErrInvalidRequest, i, c.Key, c.Target)
		}
	}
	for i, op := range t.Ops {
		for j, c := range op.If {
			if c.Key == "" || c.Target < CompareExists || c.Target > CompareVersion {
				return fmt.Errorf("%w: guard %d of op %d has an empty key or unknown target %d", ErrInvalidRequest, j, i, c.Target)
			}
		}
		if op.Key == "" {
			return fmt.Errorf("%w: op %d has an empty key", ErrInvalidRequest, i)
		}
		if op.Type != OpPut && op.Type != OpDelete {
			return fmt.Errorf("%w: op %d on %q has unknown type %d", ErrInvalidRequest, i, op.Key, op.Type)
		}
		if len(op.Value) > limits.maxValueSize {
			return fmt.Errorf("%w: value of %q is %d bytes; the limit is %d", ErrValueTooLarge, op.Key, len(op.Value), limits.maxValueSize)
		}
	}
	if key, dup := duplicateKey(t.Ops); dup {
		return fmt.Errorf("%w: key %q appears in more than one op", ErrInvalidRequest, key)
	}
	return nil
}

// duplicateKey reports a key used by more than one op.
func duplicateKey(ops []Op) (string, bool) {
	if len(ops) <= 8 {
		for i := range ops {
			for j := i + 1; j < len(ops); j++ {
				if ops[i].Key == ops[j].Key {
					return ops[i].Key, true
				}
			}
		}
		return "", false
	}
	seen := make(map[string]struct{}, len(ops))
	for _, op := range ops {
		if _, ok := seen[op.Key]; ok {
			return op.Key, true
		}
		seen[op.Key] = struct{}{}
	}
	return "", false
}
