package expire

import (
	"sync"
	"testing"
	"time"
)

func TestFakeClock(t *testing.T) {
	t.Parallel()
	start := time.UnixMilli(t0)
	c := NewFakeClock(start)
	if !c.Now().Equal(start) || NowMs(c) != t0 {
		t.Fatalf("Now = %v, NowMs = %d", c.Now(), NowMs(c))
	}
	if got := c.Advance(1500 * time.Millisecond); NowMs(c) != t0+1500 || !got.Equal(c.Now()) {
		t.Fatalf("after Advance: NowMs = %d, returned %v", NowMs(c), got)
	}
	c.Advance(-2 * time.Second)
	if NowMs(c) != t0-500 {
		t.Fatalf("after going back: NowMs = %d", NowMs(c))
	}
	c.Set(time.UnixMilli(42))
	if NowMs(c) != 42 {
		t.Fatalf("after Set: NowMs = %d", NowMs(c))
	}
	var zero FakeClock
	if !zero.Now().IsZero() {
		t.Fatal("zero FakeClock is not at the zero time")
	}
}

func TestFakeClockConcurrent(t *testing.T) {
	t.Parallel()
	c := NewFakeClock(time.UnixMilli(0))
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 1000 {
				c.Advance(time.Millisecond)
				_ = c.Now()
			}
		})
	}
	wg.Wait()
	if NowMs(c) != 4000 {
		t.Fatalf("NowMs = %d, want 4000", NowMs(c))
	}
}

func TestSystemClock(t *testing.T) {
	t.Parallel()
	before := time.Now()
	got := System.Now()
	if got.Before(before) || got.Sub(before) > time.Minute {
		t.Fatalf("System.Now = %v, time.Now was %v", got, before)
	}
}
