package evict

import (
	"fmt"
	"time"
)

// Entry describes an entry to the policy.
type Entry struct {
	Hash     uint64 // 64-bit hash of the key (for frequency sketches / sampling)
	Size     uint32 // accounted bytes of the entry (1 in the trace simulator)
	Deadline int64  // expiry deadline in unix milliseconds; 0 = no TTL
}

// Options configure a policy. Zero values mean defaults.
type Options struct {
	// Capacity is the number of bytes (entries in the simulator, where every
	// Size is 1) the policy's shard may hold. Policies that size windows or
	// queues use it; it may change later through SetCapacity. Zero means
	// unknown: the default policy then learns it from when Victim is called.
	Capacity int64
	// LFULogFactor is Redis's lfu-log-factor; 0 means 10, a negative value
	// means 0 (every access increments the counter).
	LFULogFactor int
	// LFUDecayTime is Redis's lfu-decay-time in minutes; 0 means 1, a
	// negative value means 0 (counters never decay).
	LFUDecayTime int
	// Now is the clock in unix milliseconds; nil means the wall clock. Tests
	// and the trace simulator inject one.
	Now func() int64
	// Seed seeds random sampling; 0 means a fixed default seed, so runs are
	// reproducible.
	Seed uint64
	// Samples is Redis's maxmemory-samples: how many entries the sampled
	// policies (*-lru, *-lfu, volatile-ttl) look at per eviction; 0 means 5.
	Samples int
}

// Sampler is implemented by policies that sample candidates; SetSamples
// changes maxmemory-samples in place (n < 1 means the default).
type Sampler interface {
	SetSamples(n int)
}

// Policy decides which entry to evict.
//
// A Policy is not safe for concurrent use: the owner (one store shard)
// serialises all calls, and a Policy never starts goroutines. Calls naming an
// id the policy does not hold (Access, Update, Remove of an unknown or
// removed id) are no-ops.
type Policy interface {
	// Name returns the policy's name as accepted by New.
	Name() string
	// Insert tells the policy a new entry was stored under id.
	Insert(id uint32, e Entry)
	// Access records a hit (read or overwrite) on an existing entry.
	Access(id uint32)
	// Update records a change of size or deadline; it is not an access.
	Update(id uint32, e Entry)
	// Remove forgets id (deleted, expired or evicted by the store). The id
	// may be reused by a later Insert.
	Remove(id uint32)
	// Victim names the next entry to evict without removing it; the store
	// removes it and then calls Remove. ok is false when nothing is
	// evictable. An admission policy may name the entry just inserted: that
	// is how it declines admission.
	Victim() (id uint32, ok bool)
	// SetCapacity changes the capacity given in Options.
	SetCapacity(c int64)
	// Freq reports the access frequency the policy sees (OBJECT FREQ); ok
	// is false when the policy does not track frequency or id is unknown.
	Freq(id uint32) (int, bool)
	// IdleMillis reports the time since the last access in milliseconds
	// (OBJECT IDLETIME); ok is false when the policy does not track it or
	// id is unknown.
	IdleMillis(id uint32) (int64, bool)
	// Len returns the number of entries held.
	Len() int
	// Bytes returns the memory used by the policy's own structures.
	Bytes() int64
}

// Default is the name of the default policy.
const Default = "allkeys-wtinylfu"

// Policy names.
const (
	NoEviction      = "noeviction"
	AllKeysLRU      = "allkeys-lru"
	VolatileLRU     = "volatile-lru"
	AllKeysLFU      = "allkeys-lfu"
	VolatileLFU     = "volatile-lfu"
	AllKeysRandom   = "allkeys-random"
	VolatileRandom  = "volatile-random"
	VolatileTTL     = "volatile-ttl"
	AllKeysWTinyLFU = "allkeys-wtinylfu"
)

var names = []string{
	NoEviction,
	AllKeysLRU, VolatileLRU,
	AllKeysLFU, VolatileLFU,
	AllKeysRandom, VolatileRandom,
	VolatileTTL,
	AllKeysWTinyLFU,
}

// Names returns every valid policy name, the default last.
func Names() []string {
	return append([]string(nil), names...)
}

// New builds the policy called name.
func New(name string, o Options) (Policy, error) {
	if o.Capacity < 0 {
		return nil, fmt.Errorf("eviction policy %q: negative capacity %d", name, o.Capacity)
	}
	o = o.withDefaults()
	switch name {
	case NoEviction:
		return newSampled(name, kindNone, false, o), nil
	case AllKeysLRU:
		return newSampled(name, kindLRU, false, o), nil
	case VolatileLRU:
		return newSampled(name, kindLRU, true, o), nil
	case AllKeysLFU:
		return newSampled(name, kindLFU, false, o), nil
	case VolatileLFU:
		return newSampled(name, kindLFU, true, o), nil
	case AllKeysRandom:
		return newSampled(name, kindRandom, false, o), nil
	case VolatileRandom:
		return newSampled(name, kindRandom, true, o), nil
	case VolatileTTL:
		return newSampled(name, kindTTL, true, o), nil
	case AllKeysWTinyLFU:
		return newWTinyLFU(o), nil
	}
	return nil, fmt.Errorf("unknown eviction policy %q", name)
}

func (o Options) withDefaults() Options {
	switch {
	case o.LFULogFactor == 0:
		o.LFULogFactor = 10
	case o.LFULogFactor < 0:
		o.LFULogFactor = 0
	}
	switch {
	case o.LFUDecayTime == 0:
		o.LFUDecayTime = 1
	case o.LFUDecayTime < 0:
		o.LFUDecayTime = 0
	}
	if o.Now == nil {
		o.Now = wallClock
	}
	if o.Seed == 0 {
		o.Seed = 0x9e3779b97f4a7c15
	}
	return o
}

func wallClock() int64 { return time.Now().UnixMilli() }
