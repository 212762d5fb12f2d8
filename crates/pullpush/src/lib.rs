//! pullpush
