package cacheaside_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachesrv/cachesrv/client/cacheaside"
)

// A thousand concurrent readers of a key that is not cached: the loader
// runs once and every reader gets its value.
func Example() {
	addr, stop := startServer()
	defer stop()
	rdb := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 1000})
	defer rdb.Close()
	cache := cacheaside.New(rdb, cacheaside.Options{TTL: time.Minute, Grace: 10 * time.Second})
	defer cache.Close()

	var calls atomic.Int64
	loadUser := func(ctx context.Context) ([]byte, error) {
		calls.Add(1)
		time.Sleep(50 * time.Millisecond) // a slow database query
		return []byte(`{"id":42,"name":"Ada"}`), nil
	}
	var wg sync.WaitGroup
	var same atomic.Int64
	for i := 0; i < 1000; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := cache.GetOrLoad(context.Background(), "user:42", loadUser)
			if err == nil && string(v) == `{"id":42,"name":"Ada"}` {
				same.Add(1)
			}
		}()
	}
	wg.Wait()
	fmt.Println("loader calls:", calls.Load())
	fmt.Println("readers with the value:", same.Load())
	// Output:
	// loader calls: 1
	// readers with the value: 1000
}

// A loader that reports ErrNotFound is cached as a negative entry: keys that
// do not exist stop reaching the database.
func ExampleClient_GetOrLoad_notFound() {
	addr, stop := startServer()
	defer stop()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	cache := cacheaside.New(rdb, cacheaside.Options{NegativeTTL: time.Minute})
	defer cache.Close()

	calls := 0
	load := func(ctx context.Context) ([]byte, error) {
		calls++
		return nil, cacheaside.ErrNotFound
	}
	for i := 0; i < 3; i++ {
		_, err := cache.GetOrLoad(context.Background(), "user:404", load)
		fmt.Println(errors.Is(err, cacheaside.ErrNotFound))
	}
	fmt.Println("loader calls:", calls)
	// Output:
	// true
	// true
	// true
	// loader calls: 1
}

// Write-through: the origin first, then the cache.
func ExampleClient_Set() {
	addr, stop := startServer()
	defer stop()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	cache := cacheaside.New(rdb, cacheaside.Options{TTL: time.Minute})
	defer cache.Close()

	db := map[string]string{} // the origin
	ctx := context.Background()
	err := cache.Set(ctx, "user:7", []byte("Grace"), func(ctx context.Context) error {
		db["user:7"] = "Grace"
		return nil
	})
	fmt.Println(err)
	v, _ := cache.GetOrLoad(ctx, "user:7", func(ctx context.Context) ([]byte, error) {
		panic("not called: the value is cached")
	})
	fmt.Println(string(v))
	// Output:
	// <nil>
	// Grace
}

// Tags attached on fills let one call invalidate every entry derived from a
// record.
func ExampleClient_InvalidateTags() {
	addr, stop := startServer()
	defer stop()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	cache := cacheaside.New(rdb, cacheaside.Options{TTL: time.Hour})
	defer cache.Close()

	ctx := context.Background()
	version := 1
	page := func(ctx context.Context) ([]byte, error) {
		return []byte(fmt.Sprintf("product 42, v%d", version)), nil
	}
	v, _ := cache.GetOrLoad(ctx, "page:/p/42", page, cacheaside.WithTags("product:42"))
	fmt.Println(string(v))
	version = 2
	n, _ := cache.InvalidateTags(ctx, 0, "product:42")
	fmt.Println("invalidated:", n)
	v, _ = cache.GetOrLoad(ctx, "page:/p/42", page, cacheaside.WithTags("product:42"))
	fmt.Println(string(v))
	// Output:
	// product 42, v1
	// invalidated: 1
	// product 42, v2
}
