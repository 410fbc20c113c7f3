package protocol

import (
	"errors"
	"fmt"
	"testing"

	"github.com/cachesrv/cachesrv/internal/store"
	"github.com/cachesrv/cachesrv/internal/tags"
)

// TestReplyErr: sentinels map to Redis's texts also when wrapped; other
// errors become ERR replies.
func TestReplyErr(t *testing.T) {
	t.Parallel()
	s, c := newTestServer(t, Options{})
	s.tags = tags.New(s.st, tags.Options{MaxPerKey: 7, MaxLen: 9})
	for _, tc := range []struct {
		err  error
		want string
	}{
		{store.ErrTooLarge, "-" + errOOMTooLarge + "\r\n"},
		{fmt.Errorf("store value: %w", store.ErrTooLarge), "-" + errOOMTooLarge + "\r\n"},
		{store.ErrKeyTooLarge, "-" + errStrTooBig + "\r\n"},
		{tags.ErrTooManyTags, "-ERR too many tags (tags-max-per-key is 7)\r\n"},
		{fmt.Errorf("resolve: %w", tags.ErrTagTooLong), "-ERR tag too long (tag-max-len is 9)\r\n"},
		{tags.ErrEmptyTag, "-ERR tag must not be empty\r\n"},
		{errors.New("boom"), "-ERR boom\r\n"},
	} {
		c.out = c.out[:0]
		c.replyErr(tc.err)
		if string(c.out) != tc.want {
			t.Errorf("%v: %q, want %q", tc.err, c.out, tc.want)
		}
	}
}
