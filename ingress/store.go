package ingress

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/livekit/protocol/livekit"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
)

// Store keeps ingress records in one bbolt file.
//
// Why bbolt: it is pure Go, a single file, and every Update transaction is
// fsynced before it returns, so a record written by an API call that has
// returned survives kill -9 and power loss. Ingress records are few and
// small; a key-value store with one index (stream key → ingress ID) is all
// the queries need, without the size and build time of an SQL engine.
type Store struct {
	db *bolt.DB
}

var (
	bucketIngress   = []byte("ingress")    // ingress ID → IngressInfo (protobuf)
	bucketStreamKey = []byte("stream_key") // stream key → ingress ID

	// ErrNotFound is returned when no ingress has the given ID or stream key.
	ErrNotFound = errors.New("ingress not found")
)

// OpenStore opens (creating if needed) the store file at path.
func OpenStore(path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: create directory: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("store %s is locked by another process (is another Tributary running with the same store_path?)", path)
		}
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketIngress, bucketStreamKey} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: init %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// Create stores a new record.
func (s *Store) Create(info *livekit.IngressInfo) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketIngress)
		if b.Get([]byte(info.IngressId)) != nil {
			return fmt.Errorf("ingress %s already exists", info.IngressId)
		}
		return put(tx, info)
	})
}

// Get loads one record by ingress ID.
func (s *Store) Get(ingressID string) (*livekit.IngressInfo, error) {
	var info *livekit.IngressInfo
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		info, err = get(tx, ingressID)
		return err
	})
	return info, err
}

// GetByStreamKey loads one record by stream key.
func (s *Store) GetByStreamKey(key string) (*livekit.IngressInfo, error) {
	var info *livekit.IngressInfo
	err := s.db.View(func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketStreamKey).Get([]byte(key))
		if id == nil {
			return ErrNotFound
		}
		var err error
		info, err = get(tx, string(id))
		return err
	})
	return info, err
}

// List returns all records, or those of one room, in ingress ID order.
func (s *Store) List(room string) ([]*livekit.IngressInfo, error) {
	var out []*livekit.IngressInfo
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketIngress).ForEach(func(k, v []byte) error {
			info := &livekit.IngressInfo{}
			if err := proto.Unmarshal(v, info); err != nil {
				return fmt.Errorf("store: record %s is corrupt: %w", k, err)
			}
			if room == "" || info.RoomName == room {
				out = append(out, info)
			}
			return nil
		})
	})
	return out, err
}

// Modify applies fn to the stored record atomically and writes the result.
// If fn returns an error nothing is written.
func (s *Store) Modify(ingressID string, fn func(info *livekit.IngressInfo) error) (*livekit.IngressInfo, error) {
	var out *livekit.IngressInfo
	err := s.db.Update(func(tx *bolt.Tx) error {
		info, err := get(tx, ingressID)
		if err != nil {
			return err
		}
		oldKey := info.StreamKey
		if err := fn(info); err != nil {
			return err
		}
		if oldKey != "" && oldKey != info.StreamKey {
			if err := tx.Bucket(bucketStreamKey).Delete([]byte(oldKey)); err != nil {
				return err
			}
		}
		out = info
		return put(tx, info)
	})
	return out, err
}

// Delete removes a record.
func (s *Store) Delete(ingressID string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		info, err := get(tx, ingressID)
		if err != nil {
			return err
		}
		if info.StreamKey != "" {
			if err := tx.Bucket(bucketStreamKey).Delete([]byte(info.StreamKey)); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketIngress).Delete([]byte(ingressID))
	})
}

func get(tx *bolt.Tx, ingressID string) (*livekit.IngressInfo, error) {
	v := tx.Bucket(bucketIngress).Get([]byte(ingressID))
	if v == nil {
		return nil, ErrNotFound
	}
	info := &livekit.IngressInfo{}
	if err := proto.Unmarshal(v, info); err != nil {
		return nil, fmt.Errorf("store: record %s is corrupt: %w", ingressID, err)
	}
	return info, nil
}

func put(tx *bolt.Tx, info *livekit.IngressInfo) error {
	v, err := proto.Marshal(info)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketIngress).Put([]byte(info.IngressId), v); err != nil {
		return err
	}
	if info.StreamKey != "" {
		return tx.Bucket(bucketStreamKey).Put([]byte(info.StreamKey), []byte(info.IngressId))
	}
	return nil
}
