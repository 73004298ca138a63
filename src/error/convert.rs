//! What the errors of the layers below mean as answers, in one place: the
//! database's, the domain parsers' (422 `validation_error`, their message as it is)
//! and the credential primitives'.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::AppError;
use crate::credentials::{HashError, InvalidToken, IssueError, KeyError, PoolError};
use crate::domain::{CursorError, EmailError, PasswordError, PermissionError, RoleNameError};

impl From<DieselError> for AppError {
    fn from(err: DieselError) -> Self {
        match err {
            DieselError::NotFound => AppError::NotFound("resource"),
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => AppError::Conflict,
            // Row locks keep referenced rows in place wherever they are read; should a
            // reference still go stale, it is a conflict with a concurrent change.
            DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
                AppError::Conflict
            }
            DieselError::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                _,
            ) => AppError::Unavailable,
            // SQLite under write contention beyond busy_timeout: retryable, not a bug.
            DieselError::DatabaseError(_, ref info)
                if info.message().contains("database is locked") =>
            {
                AppError::Unavailable
            }
            DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => {
                AppError::Unavailable
            }
            // Lock order is fixed wherever several rows are locked, so this is a
            // safety net: PostgreSQL picked this transaction as a deadlock victim and
            // rolled it back, and a retry will succeed.
            DieselError::DatabaseError(_, ref info)
                if info.message().contains("deadlock detected") =>
            {
                AppError::Unavailable
            }
            other => AppError::internal(format!("database: {other}")),
        }
    }
}

impl From<diesel::r2d2::PoolError> for AppError {
    fn from(err: diesel::r2d2::PoolError) -> Self {
        log::warn!("database pool: {err}");
        AppError::Unavailable
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(_: actix_web::error::BlockingError) -> Self {
        AppError::Unavailable
    }
}

/// The domain's refusals are the client's mistakes, told as they are.
macro_rules! validation {
    ($($error:ty),*) => {$(
        impl From<$error> for AppError {
            fn from(err: $error) -> Self {
                AppError::Validation(err.to_string())
            }
        }
    )*};
}

validation!(
    EmailError,
    PasswordError,
    PermissionError,
    RoleNameError,
    CursorError
);

impl From<PoolError> for AppError {
    fn from(err: PoolError) -> Self {
        match err {
            PoolError::Busy => AppError::Busy,
            other => AppError::internal(other),
        }
    }
}

impl From<HashError> for AppError {
    fn from(err: HashError) -> Self {
        match err {
            HashError::Pool(pool) => pool.into(),
            other => AppError::internal(other),
        }
    }
}

impl From<IssueError> for AppError {
    fn from(err: IssueError) -> Self {
        match err {
            IssueError::NoSigningKey => AppError::Unavailable,
            other => AppError::internal(other),
        }
    }
}

impl From<InvalidToken> for AppError {
    fn from(_: InvalidToken) -> Self {
        AppError::InvalidToken
    }
}

impl From<KeyError> for AppError {
    fn from(err: KeyError) -> Self {
        AppError::internal(err)
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::StatusCode;
    use actix_web::ResponseError;

    use super::*;
    use crate::domain::{Email, Password, Permission, RoleName};
    use crate::error::ErrorCode;

    fn answer(err: impl Into<AppError>) -> (StatusCode, ErrorCode, String) {
        let err = err.into();
        (err.status_code(), err.code(), err.to_string())
    }

    #[test]
    fn a_domain_refusal_is_a_422_validation_error_with_its_own_message() {
        let unprocessable = |message: &str| {
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::ValidationError,
                message.to_string(),
            )
        };
        let email = Email::parse("nope").unwrap_err();
        assert_eq!(answer(email), unprocessable("email is not a valid address"));
        let password = Password::parse("short".into()).unwrap_err();
        let expected = unprocessable("password must be at least 8 characters");
        assert_eq!(answer(password), expected);
        let role = RoleName::parse("X").unwrap_err();
        assert_eq!(answer(role).1, ErrorCode::ValidationError);
        let permission = Permission::parse("nope").unwrap_err();
        assert_eq!(answer(permission).0, StatusCode::UNPROCESSABLE_ENTITY);
        let cursor = CursorError;
        let expected = unprocessable("cursor is not one this list gave out");
        assert_eq!(answer(cursor), expected);
    }

    #[test]
    fn a_credential_failure_answers_as_it_did_before_it_had_a_type() {
        let busy = answer(HashError::Pool(PoolError::Busy));
        assert_eq!(
            (busy.0, busy.1),
            (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::ServerBusy)
        );
        for internal in [answer(PoolError::Stopped), answer(PoolError::Dropped)] {
            assert_eq!(internal.1, ErrorCode::InternalError);
        }
        let no_key = answer(IssueError::NoSigningKey);
        let expected = (
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::ServiceUnavailable,
        );
        assert_eq!((no_key.0, no_key.1), expected);
        let invalid = answer(InvalidToken);
        let expected = (StatusCode::UNAUTHORIZED, ErrorCode::InvalidToken);
        assert_eq!((invalid.0, invalid.1), expected);
        assert_eq!(invalid.2, "the access token is invalid, expired or revoked");
    }
}
