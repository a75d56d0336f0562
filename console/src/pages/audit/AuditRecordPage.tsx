// One audit record: who, what, when, from where; its changes as a diff; the request it came
// with; its place in the hash chain. Links filter the trail by this record's actor, object and
// request.
import { Box, Button, Chip, Paper, Stack, Table, TableBody, TableCell, TableRow, Typography } from "@mui/material";
import ArrowBack from "@mui/icons-material/ArrowBack";
import { useQuery } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { Link, useLocation, useNavigate, useParams } from "react-router";
import { api, unwrap } from "../../api/client";
import { ErrorAlert } from "../../components/ErrorAlert";
import { PageHeader } from "../../components/PageHeader";
import { PageLoading } from "../../components/PageLoading";
import { Time } from "../../components/Time";
import { ChangesDiff } from "./ChangesDiff";
import { filterQuery, type Filters } from "./filters";
import { actorLabel, actorOf, objectLabel, objectOf, outcomeTone } from "./format";

function Section({ title, children }: { title: string; children: ReactNode }) {
  return (
    <Box component="section" aria-label={title} sx={{ mb: 3 }}>
      <Typography variant="h6" component="h2" sx={{ mb: 1 }}>
        {title}
      </Typography>
      {children}
    </Box>
  );
}

function Facts({ label, rows }: { label: string; rows: [string, ReactNode][] }) {
  return (
    <Paper variant="outlined">
      <Table size="small" aria-label={label}>
        <TableBody>
          {rows.map(([name, value]) => (
            <TableRow key={name}>
              <TableCell component="th" scope="row" sx={{ width: 180, fontWeight: 500 }}>
                {name}
              </TableCell>
              <TableCell sx={{ overflowWrap: "anywhere" }}>{value}</TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
    </Paper>
  );
}

const search = (filters: Filters) => `/audit?${filterQuery(filters).toString()}`;

export default function AuditRecordPage() {
  const { id = "" } = useParams();
  const location = useLocation();
  const navigate = useNavigate();
  // opened from the list: back to that very page of it (filters, cursor); else to the trail
  const fromList = Boolean((location.state as { fromList?: boolean } | null)?.fromList);
  const record = useQuery({
    queryKey: ["audit", "record", id],
    queryFn: () => unwrap(api.GET("/api/v1/audit/events/{id}/", { params: { path: { id } } })),
    staleTime: Infinity, // a record never changes
  });
  const backLink = (
    <Button startIcon={<ArrowBack />} onClick={() => (fromList ? navigate(-1) : navigate("/audit"))}>
      Back to the records
    </Button>
  );
  if (record.error) {
    return (
      <>
        <PageHeader title="Audit record" actions={backLink} />
        <ErrorAlert error={record.error} />
      </>
    );
  }
  if (!record.data) return <PageLoading label="Loading the record" />;
  const data = record.data;
  const actor = actorOf(data);
  const object = objectOf(data);
  return (
    <>
      <PageHeader
        title={data.action}
        subtitle={
          <>
            Position {data.sequence.toLocaleString()} of the chain · <Time value={data.occurred_at} />
          </>
        }
        actions={backLink}
      />
      <Stack direction={{ xs: "column", lg: "row" }} spacing={3} alignItems="flex-start">
        <Box sx={{ flex: 3, minWidth: 0, width: "100%" }}>
          <Section title="What happened">
            <Facts
              label="What happened"
              rows={[
                ["Action", <code key="a">{data.action}</code>],
                ["Outcome", data.outcome ? <Chip size="small" variant="outlined" color={outcomeTone(data.outcome)} label={data.outcome} /> : "—"],
                [
                  "Actor",
                  <span key="actor">
                    {actorLabel(actor)} ({actor.kind}){" "}
                    {actor.name ? <Link to={search({ actor: actor.name })}>their records</Link> : null}
                  </span>,
                ],
                [
                  "Object",
                  <span key="object">
                    {objectLabel(object)}
                    {object.id ? <Typography variant="caption" component="div" color="text.secondary">id {object.id}</Typography> : null}
                    {object.type && object.id ? <Link to={search({ object_type: object.type, object_id: object.id })}>this object's records</Link> : null}
                  </span>,
                ],
                ["Occurred", <Time key="o" value={data.occurred_at} />],
                ["Recorded", <Time key="r" value={data.recorded_at} />],
              ]}
            />
          </Section>
          <Section title="Changes">
            <ChangesDiff changes={data.changes} />
          </Section>
          <Section title="Details">
            <Paper variant="outlined" sx={{ p: 1.5, overflowX: "auto" }}>
              <Box component="pre" sx={{ m: 0, fontSize: "0.85rem", whiteSpace: "pre-wrap", overflowWrap: "anywhere" }} aria-label="The event's details">
                {JSON.stringify(data.details, null, 2)}
              </Box>
            </Paper>
          </Section>
        </Box>
        <Box sx={{ flex: 2, minWidth: 0, width: "100%" }}>
          <Section title="Request">
            <Facts
              label="Request"
              rows={[
                ["Address", data.source_ip ? <Link key="ip" to={search({ source_ip: data.source_ip })}>{data.source_ip}</Link> : "—"],
                ["Request id", data.request_id ? <Link key="req" to={search({ request_id: data.request_id })}>{data.request_id}</Link> : "—"],
                ["User agent", data.user_agent || "—"],
              ]}
            />
          </Section>
          <Section title="Chain">
            <Facts
              label="Chain"
              rows={[
                ["Position", data.sequence.toLocaleString()],
                ["Record id", <code key="id">{data.id}</code>],
                ["Hash", <code key="h">{data.hash}</code>],
                ["Previous hash", <code key="p">{data.prev_hash}</code>],
              ]}
            />
            <Typography variant="body2" color="text.secondary" sx={{ mt: 1 }}>
              The hash covers this record's content and the previous record's hash: changing,
              removing or inserting a record breaks the chain from there on, and the verification
              names it.
            </Typography>
          </Section>
        </Box>
      </Stack>
    </>
  );
}
