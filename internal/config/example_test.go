package config_test

import (
	"errors"
	"fmt"

	"github.com/cachesrv/cachesrv/internal/config"
)

func ExampleLoad() {
	cfg, err := config.Load(
		[]string{"--port", "7000", "--maxmemory", "100mb"},
		[]string{"CACHESRV_MAXMEMORY_POLICY=allkeys-lru"},
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.Port, cfg.MaxMemory, cfg.MaxMemoryPolicy)
	// Output: 7000 104857600 allkeys-lru
}

func ExampleLoad_errors() {
	_, err := config.Load([]string{"--maxmemory", "lots", "--hz", "0"}, nil)
	fmt.Println(err)
	// Output:
	// maxmemory: argument must be a memory value (got "lots" from flag --maxmemory)
	// hz: argument must be between 1 and 500 inclusive (got "0" from flag --hz)
}

func ExampleConfig_Set() {
	live := config.Default()
	next := live.Clone()
	for _, kv := range [][2]string{{"maxmemory", "1gb"}, {"maxmemory", "1.5gb"}, {"port", "7000"}} {
		if err := next.Set(kv[0], kv[1]); err != nil {
			fmt.Printf("ERR CONFIG SET failed (possibly related to argument '%s') - %v\n", kv[0], err)
			continue
		}
		v, _ := next.Get(kv[0])
		fmt.Println(kv[0], v)
	}
	fmt.Println(errors.Is(next.Set("port", "7000"), config.ErrImmutable))
	// Output:
	// maxmemory 1073741824
	// ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value
	// ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable config at run time
	// true
}

func ExampleConfig_Match() {
	fmt.Println(config.Default().Match("maxmemory*"))
	// Output: [maxmemory maxmemory-policy maxmemory-samples]
}
