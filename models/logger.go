package models

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// gormLogger sends gorm's slow-query and error reports to slog. Queries are
// logged without their parameters: they hold phone numbers and openids.
type gormLogger struct {
	log  *slog.Logger
	slow time.Duration
}

func newGormLogger(l *slog.Logger) logger.Interface {
	return gormLogger{log: l.With("component", "gorm"), slow: 500 * time.Millisecond}
}

func (g gormLogger) LogMode(logger.LogLevel) logger.Interface { return g }

func (g gormLogger) Info(ctx context.Context, msg string, args ...any) {
	g.log.DebugContext(ctx, msg)
}

func (g gormLogger) Warn(ctx context.Context, msg string, args ...any) {
	g.log.WarnContext(ctx, msg)
}

func (g gormLogger) Error(ctx context.Context, msg string, args ...any) {
	g.log.ErrorContext(ctx, msg)
}

// ParamsFilter keeps parameter values out of every SQL string gorm renders
// for logging.
func (g gormLogger) ParamsFilter(ctx context.Context, sql string, params ...any) (string, []any) {
	return sql, nil
}

func (g gormLogger) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	elapsed := time.Since(begin)
	switch {
	case errors.Is(err, context.Canceled):
		// the caller went away; the transaction rolls back and says so itself
	case err != nil && !errors.Is(err, gorm.ErrRecordNotFound) && !errors.Is(err, gorm.ErrDuplicatedKey):
		sql, _ := fc()
		g.log.WarnContext(ctx, "query failed", "sql", sqlShape(sql), "err", err, "elapsed", elapsed)
	case elapsed > g.slow:
		sql, rows := fc()
		g.log.WarnContext(ctx, "slow query", "sql", sqlShape(sql), "rows", rows, "elapsed", elapsed)
	}
}

// sqlShape keeps a statement's verb and table and drops everything from
// WHERE, SET or VALUES on: some gorm paths interpolate the arguments, which
// hold phone numbers and openids.
func sqlShape(sql string) string {
	cut := len(sql)
	for _, kw := range []string{" WHERE ", " SET ", " VALUES ", " VALUES("} {
		if i := strings.Index(strings.ToUpper(sql), kw); i >= 0 && i < cut {
			cut = i
		}
	}
	return sql[:cut]
}
