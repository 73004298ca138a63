//! An application built on turnstile: everything the `turnstile` binary serves (same
//! configuration, same `listening on` line), plus notes of its own, stored through
//! Diesel in a table of its own migrations and guarded by permissions of its own.
//!
//! ```sh
//! cargo run --example monolith
//! ```
//!
//! `GET /api/notes` needs `notes:read` and `POST /api/notes` needs `notes:write`. An
//! admin grants them to a role, e.g. to every account:
//! `PATCH /api/admin/roles/user {"permissions": ["notes:read", "notes:write"]}`.

use std::process::ExitCode;

use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_migrations::{embed_migrations, EmbeddedMigrations};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use turnstile::auth::{require_permission, AuthUser};
use turnstile::db::Migrations;
use turnstile::error::{AppError, AppResult, ErrorBody};
use turnstile::routes::{JsonBody, ServiceConfig};
use turnstile::settings::Settings;
use turnstile::startup::{Application, Extension};
use turnstile::state::AppState;

diesel::table! {
    notes (id) {
        id -> BigInt,
        user_id -> BigInt,
        text -> Text,
        created_at -> Timestamp,
    }
}

static SQLITE: EmbeddedMigrations = embed_migrations!("examples/monolith/migrations/sqlite");
static POSTGRES: EmbeddedMigrations = embed_migrations!("examples/monolith/migrations/postgres");

const NOTES_READ: &str = "notes:read";
const NOTES_WRITE: &str = "notes:write";
const MAX_TEXT: usize = 1000;

#[derive(Queryable, Selectable)]
#[diesel(table_name = notes)]
struct NoteRow {
    id: i64,
    text: String,
    created_at: NaiveDateTime,
}

#[derive(Serialize, ToSchema)]
pub struct Note {
    id: i64,
    text: String,
    created_at: DateTime<Utc>,
}

impl From<NoteRow> for Note {
    fn from(n: NoteRow) -> Self {
        Note {
            id: n.id,
            text: n.text,
            created_at: n.created_at.and_utc(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct NoteList {
    items: Vec<Note>,
}

/// The caller's own notes, newest first.
#[utoipa::path(
    tag = "notes",
    operation_id = "listNotes",
    extensions(("x-permission" = json!(["notes:read"]))),
    responses((status = 200, description = "The caller's notes, newest first", body = NoteList)),
    security(("bearer" = []))
)]
#[get("/notes", wrap = "require_permission(NOTES_READ)")]
async fn list(state: web::Data<AppState>, caller: AuthUser) -> AppResult<HttpResponse> {
    let rows = state
        .db
        .run(move |conn| {
            Ok(notes::table
                .filter(notes::user_id.eq(caller.user_id))
                .order(notes::id.desc())
                .select(NoteRow::as_select())
                .load(conn)?)
        })
        .await?;
    let items = rows.into_iter().map(Note::from).collect();
    Ok(HttpResponse::Ok().json(NoteList { items }))
}

#[derive(Deserialize, ToSchema)]
pub struct NewNote {
    #[schema(required = true, value_type = String, min_length = 1, max_length = 1000)]
    text: Option<String>,
}

/// Write a note.
#[utoipa::path(
    tag = "notes",
    operation_id = "createNote",
    extensions(("x-permission" = json!(["notes:write"]))),
    request_body = NewNote,
    responses(
        (status = 201, description = "The note", body = Note),
        (status = 422, description = "`validation_error`: empty, or over 1000 characters", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/notes", wrap = "require_permission(NOTES_WRITE)")]
async fn create(
    state: web::Data<AppState>,
    caller: AuthUser,
    body: JsonBody<NewNote>,
) -> AppResult<HttpResponse> {
    let text = body.into_inner().text.unwrap_or_default();
    if text.trim().is_empty() || text.chars().count() > MAX_TEXT {
        return Err(AppError::Validation(format!(
            "text must be 1 to {MAX_TEXT} characters, not only whitespace"
        )));
    }
    let row = state
        .db
        .transaction(move |conn| {
            Ok(diesel::insert_into(notes::table)
                .values((
                    notes::user_id.eq(caller.user_id),
                    notes::text.eq(text),
                    notes::created_at.eq(turnstile::models::now()),
                ))
                .returning((notes::id, notes::text, notes::created_at))
                .get_result::<NoteRow>(conn)?)
        })
        .await?;
    Ok(HttpResponse::Created().json(Note::from(row)))
}

/// The notes routes, mounted inside turnstile's `/api` (so behind its bearer
/// middleware), and the notes table's migrations.
pub fn extension() -> Extension {
    fn api(cfg: &mut ServiceConfig) {
        cfg.service(list).service(create);
    }
    Extension {
        api: Some(api),
        migrations: Some(Migrations {
            sqlite: &SQLITE,
            postgres: &POSTGRES,
        }),
    }
}

#[allow(dead_code)] // The integration tests include this file for `extension`.
fn main() -> ExitCode {
    let settings = match Settings::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("turnstile: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    turnstile::telemetry::init_with(settings.log.format);
    let served = actix_web::rt::System::new().block_on(async move {
        let app = Application::build_with(settings, extension())
            .await
            .map_err(|e| e.to_string())?;
        app.run_until_stopped().await.map_err(|e| e.to_string())
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e}");
            eprintln!("monolith: {e}");
            ExitCode::FAILURE
        }
    }
}
