// Every statement of the checkpoint store (CheckpointStore), by name, in one
// place: the cursor rows (`checkpoints`), their history
// (`checkpoint_transitions`) and fetch errors (`stream_errors`). Values are
// always bound.
#ifndef SLUICE_SERVER_WORKFLOWS_STREAMS_CHECKPOINT_SQL_H_
#define SLUICE_SERVER_WORKFLOWS_STREAMS_CHECKPOINT_SQL_H_

namespace sluice::checkpoint_sql {

// Returns the stream only if the row was created. $1 stream, $2 initial
// cursor, $3 now.
inline constexpr char kEnsure[] = R"sql(
INSERT INTO checkpoints (stream, cursor, updated_at, created_at)
VALUES ($1, $2, $3::timestamptz, $3::timestamptz)
ON CONFLICT (stream) DO NOTHING
RETURNING stream)sql";

// $1 streams.
inline constexpr char kCursors[] = R"sql(
SELECT stream, cursor FROM checkpoints WHERE stream = ANY($1::text[]))sql";

// The cursor and the UTC date it became current on. $1 stream.
inline constexpr char kLock[] = R"sql(
SELECT cursor, to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')
  FROM checkpoints WHERE stream = $1 FOR UPDATE)sql";

// In stream order, so two callers never wait for each other in opposite
// orders. $1 LIKE pattern of streams.
inline constexpr char kShareLock[] = R"sql(
SELECT stream FROM checkpoints WHERE stream LIKE $1 ORDER BY stream FOR SHARE)sql";

// $1 stream, $2 new cursor, $3 now, $4 pages (0 or 1), $5 rows, $6 empty
// polls (0 or 1), $7 at the head (head_at = now).
inline constexpr char kAdvance[] = R"sql(
UPDATE checkpoints SET cursor = $2, updated_at = $3::timestamptz, polled_at = $3::timestamptz,
       pages = pages + $4, rows = rows + $5, empty_polls = empty_polls + $6,
       head_at = CASE WHEN $7 THEN $3::timestamptz ELSE head_at END
 WHERE stream = $1)sql";

// An accepted move. $1 stream, $2 from, $3 to, $4 rows, $5 agent ('' =
// none), $6 now.
inline constexpr char kInsertAccepted[] = R"sql(
INSERT INTO checkpoint_transitions (stream, from_cursor, to_cursor, rows, agent_id, accepted,
                                    reason, at)
VALUES ($1, $2, $3, $4, NULLIF($5, ''), true, NULL, $6::timestamptz))sql";

// $1 stream, $2 now, $3 at the head (head_at = now, one empty poll), $4 rows.
inline constexpr char kRecordPoll[] = R"sql(
UPDATE checkpoints SET polled_at = $2::timestamptz,
       head_at = CASE WHEN $3 THEN $2::timestamptz ELSE head_at END,
       empty_polls = empty_polls + CASE WHEN $3 THEN 1 ELSE 0 END, rows = rows + $4
 WHERE stream = $1)sql";

// A refused move. $1 stream, $2 from, $3 to, $4 agent ('' = none), $5
// reason, $6 now.
inline constexpr char kInsertRejected[] = R"sql(
INSERT INTO checkpoint_transitions (stream, from_cursor, to_cursor, rows, agent_id, accepted,
                                    reason, at)
VALUES ($1, $2, $3, 0, NULLIF($4, ''), false, $5, $6::timestamptz))sql";

// $1 stream, $2 HTTP status (0 = none), $3 error, $4 now.
inline constexpr char kInsertError[] = R"sql(
INSERT INTO stream_errors (stream, http_status, error, at)
VALUES ($1, NULLIF($2, 0), $3, $4::timestamptz))sql";

}  // namespace sluice::checkpoint_sql

#endif  // SLUICE_SERVER_WORKFLOWS_STREAMS_CHECKPOINT_SQL_H_
