package idempotency

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a Store in Redis, shared by every replica: a retry that reaches
// another replica replays, and two replicas racing on one key run it once
// (the claim is one SET NX). Records expire with Redis's own TTLs.
type Redis struct {
	client redis.UniversalClient
	prefix string
	// timeout bounds each call: a Redis that is down fails a mutation
	// open quickly (see Extension) rather than holding it.
	timeout time.Duration
}

var _ Store = (*Redis)(nil)

// NewRedis returns a store on client (the gateway's one Redis client).
func NewRedis(client redis.UniversalClient) *Redis {
	return &Redis{client: client, prefix: "stacker:idempotency:", timeout: time.Second}
}

// Claim implements Store: SET NX GET claims the key or returns what it
// holds, in one atomic step.
func (s *Redis) Claim(ctx context.Context, key, fp string, lease time.Duration) (*Record, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	claim, err := json.Marshal(Record{Fingerprint: fp})
	if err != nil {
		return nil, err
	}
	old, err := s.client.SetArgs(ctx, s.prefix+key, claim, redis.SetArgs{Mode: "NX", Get: true, TTL: lease}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("idempotency: redis claim: %w", err)
	}
	var r Record
	if err := json.Unmarshal([]byte(old), &r); err != nil {
		return nil, fmt.Errorf("idempotency: redis record: %w", err)
	}
	return &r, nil
}

// Complete implements Store.
func (s *Redis) Complete(ctx context.Context, key string, r Record, ttl time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := s.client.Set(ctx, s.prefix+key, b, ttl).Err(); err != nil {
		return fmt.Errorf("idempotency: redis complete: %w", err)
	}
	return nil
}

// Release implements Store.
func (s *Redis) Release(ctx context.Context, key string) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.client.Del(ctx, s.prefix+key).Err(); err != nil {
		return fmt.Errorf("idempotency: redis release: %w", err)
	}
	return nil
}
