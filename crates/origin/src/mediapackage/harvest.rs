//! `CreateHarvestJob` / `DescribeHarvestJob` / `ListHarvestJobs` onto the origin's harvest
//! jobs ([`crate::harvest`]).
//!
//! ```text
//! POST/GET  /harvest_jobs        CreateHarvestJob / ListHarvestJobs (includeChannelId,
//!                                includeStatus, maxResults, nextToken)
//! GET       /harvest_jobs/{id}   DescribeHarvestJob
//! ```

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use serde::{Deserialize, Serialize};
use web::aws_error::AwsError;

use super::convert::{from_origin, parse, unprocessable};
use super::{ACCOUNT, Answer, ok, page, query, region};
use crate::harvest::{HarvestJob, HarvestRequest, HarvestStatus};
use crate::registry::Shared;

/// `CreateHarvestJob` body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateRequest {
    pub id: Option<String>,
    pub origin_endpoint_id: Option<String>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub s3_destination: Option<S3Destination>,
}

/// `S3Destination`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct S3Destination {
    pub bucket_name: String,
    pub manifest_key: String,
    pub role_arn: String,
}

/// `HarvestJob` as answered.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub arn: String,
    pub channel_id: String,
    pub created_at: String,
    pub end_time: String,
    pub id: String,
    pub origin_endpoint_id: String,
    pub s3_destination: S3Destination,
    pub start_time: String,
    pub status: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobList {
    pub harvest_jobs: Vec<Job>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

fn iso(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn answer(s: &Shared, j: HarvestJob) -> Job {
    let r = j.request;
    Job {
        arn: format!(
            "arn:aws:mediapackage:{}:{ACCOUNT}:harvest_jobs/{}",
            region(s),
            r.id
        ),
        channel_id: j.channel_id,
        created_at: iso(j.created_at),
        end_time: iso(r.end),
        start_time: iso(r.start),
        id: r.id,
        origin_endpoint_id: r.origin_endpoint_id,
        s3_destination: S3Destination {
            bucket_name: r.bucket_name,
            manifest_key: r.manifest_key,
            role_arn: r.role_arn,
        },
        status: j.status.as_str(),
    }
}

fn required<T>(v: Option<T>, field: &str) -> Result<T, AwsError> {
    v.ok_or_else(|| unprocessable(field, "is required"))
}

fn time(v: Option<String>, field: &str) -> Result<chrono::DateTime<chrono::Utc>, AwsError> {
    let v = required(v, field)?;
    crate::playback::parse_time(field, &v)
        .map_err(|_| unprocessable(field, format!("{v:?} is not an ISO 8601 time")))
}

pub(super) async fn create(State(s): State<Arc<Shared>>, body: Bytes) -> Answer {
    let req: CreateRequest = parse(&body)?;
    let dest = required(req.s3_destination, "S3Destination")?;
    let job = s
        .create_harvest_job(HarvestRequest {
            id: required(req.id, "Id")?,
            origin_endpoint_id: required(req.origin_endpoint_id, "OriginEndpointId")?,
            start: time(req.start_time, "StartTime")?,
            end: time(req.end_time, "EndTime")?,
            bucket_name: dest.bucket_name,
            manifest_key: dest.manifest_key,
            role_arn: dest.role_arn,
        })
        .map_err(|e| from_origin(e, ""))?;
    ok(answer(&s, job))
}

pub(super) async fn describe(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Answer {
    let job = s.harvest_job(&id).map_err(|e| from_origin(e, ""))?;
    ok(answer(&s, job))
}

pub(super) async fn list(State(s): State<Arc<Shared>>, RawQuery(q): RawQuery) -> Answer {
    let q = query(q);
    let one = |k: &str| q.get(k).and_then(|v| v.last()).cloned();
    let channel = one("includeChannelId");
    let status = one("includeStatus");
    if let Some(st) = &status
        && ![
            HarvestStatus::InProgress,
            HarvestStatus::Succeeded,
            HarvestStatus::Failed,
        ]
        .iter()
        .any(|x| x.as_str() == st)
    {
        return Err(unprocessable(
            "IncludeStatus",
            format!("{st:?} is not one of IN_PROGRESS, SUCCEEDED, FAILED"),
        ));
    }
    let jobs: Vec<HarvestJob> = s
        .harvest_jobs()
        .into_iter()
        .filter(|j| channel.as_ref().is_none_or(|c| *c == j.channel_id))
        .filter(|j| status.as_ref().is_none_or(|st| st == j.status.as_str()))
        .collect();
    let (jobs, next_token) = page(jobs, |j| &j.request.id, &q)?;
    ok(JobList {
        harvest_jobs: jobs.into_iter().map(|j| answer(&s, j)).collect(),
        next_token,
    })
}
