// Register a target (/targets/new) or change one (/targets/:id/edit): its details, tags,
// labels, static group memberships and connection methods.
//
// A new target and its methods are one request (POST targets/ with connection_methods): the
// server writes all or nothing. An existing target's methods change through their own
// endpoint, one request each, after the target's own fields: when one of those is refused the
// form says exactly what was saved and what was not, keeps the user here with the errors at
// their fields, and a second save sends only what is still different.
import {
  Alert,
  Autocomplete,
  Box,
  Button,
  Chip,
  Divider,
  Grid,
  MenuItem,
  Paper,
  Stack,
  TextField,
  Typography,
} from "@mui/material";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link, useLocation, useNavigate, useParams } from "react-router";
import { api, ApiError, unwrap, type components } from "../../api/client";
import { ErrorAlert } from "../../components/ErrorAlert";
import { GatedButton, useCan } from "../../components/Gated";
import { PageHeader } from "../../components/PageHeader";
import { PageLoading } from "../../components/PageLoading";
import { duplicateKeys, labelRows, labelsOf, LabelsEditor, type LabelRow } from "./LabelsEditor";
import {
  checkMethods,
  methodBody,
  methodChanges,
  methodDraft,
  newMethod,
  type ConnectionMethod,
  type MethodDraft,
} from "./methods";
import { methodPaths, MethodsEditor } from "./MethodsEditor";

type TargetRequest = components["schemas"]["TargetRequest"];
type Group = components["schemas"]["Group"];
/** The schema leaves out what the API sends back for tags and labels. */
export type TargetDetail = components["schemas"]["Target"] & { tags?: string[]; labels?: Record<string, string> };

interface Fields {
  name: string;
  description: string;
  os_family: "linux" | "windows";
  environment: "production" | "staging" | "development" | "testing";
  status: "active" | "inactive" | "maintenance";
  host_key_policy: "strict" | "accept-new";
  location: string;
  data_center: string;
  region: string;
}

const EMPTY: Fields = {
  name: "",
  description: "",
  os_family: "linux",
  environment: "production",
  status: "active",
  host_key_policy: "strict",
  location: "",
  data_center: "",
  region: "",
};

const FIELD_NAMES = Object.keys(EMPTY) as (keyof Fields)[];

function fieldsOf(target: TargetDetail): Fields {
  return {
    name: target.name,
    description: target.description ?? "",
    os_family: target.os_family ?? "linux",
    environment: target.environment ?? "production",
    status: target.status ?? "active",
    host_key_policy: target.host_key_policy ?? "strict",
    location: target.location ?? "",
    data_center: target.data_center ?? "",
    region: target.region ?? "",
  };
}

/** Field errors of a method's own endpoint, keyed as in the form (`connection_methods.<i>.…`). */
function underMethod(error: ApiError, index: number): Record<string, string[]> {
  return Object.fromEntries(
    Object.entries(error.fields).map(([path, messages]) => [`connection_methods.${index}.${path}`, messages]),
  );
}

export default function TargetFormPage() {
  const { id } = useParams();
  const target = useQuery({
    queryKey: ["targets", id],
    queryFn: () => unwrap(api.GET("/api/v1/targets/{id}/", { params: { path: { id: id! } } })) as Promise<TargetDetail>,
    enabled: Boolean(id),
    // the form keeps what the user types: never replaced by a refetch while open
    staleTime: Infinity,
    refetchOnWindowFocus: false,
  });
  const groups = useQuery({
    queryKey: ["groups", "all"],
    queryFn: () => unwrap(api.GET("/api/v1/groups/", { params: { query: { page_size: 500, ordering: "name" } } })),
  });
  if (id && target.isPending) return <PageLoading label="Loading the target" />;
  if (id && target.error) {
    return (
      <>
        <PageHeader title="Edit target" />
        <ErrorAlert error={target.error} />
      </>
    );
  }
  return (
    <TargetForm
      key={id ?? "new"}
      target={id ? target.data : undefined}
      groups={groups.data?.results ?? []}
      groupsError={groups.error}
    />
  );
}

export function TargetForm({
  target,
  groups,
  groupsError,
}: {
  target?: TargetDetail;
  groups: Group[];
  groupsError?: unknown;
}) {
  const navigate = useNavigate();
  const location = useLocation();
  const client = useQueryClient();
  const mayEdit = useCan("editTargets");
  const [fields, setFields] = useState<Fields>(() => (target ? fieldsOf(target) : EMPTY));
  const [tags, setTags] = useState<string[]>(() => target?.tags ?? []);
  const [labels, setLabels] = useState<LabelRow[]>(() => labelRows(target?.labels));
  const initialGroups = groups.filter((group) => target && group.members?.includes(target.id)).map((g) => g.id);
  const [groupIds, setGroupIds] = useState<string[] | null>(null);
  const chosenGroups = groupIds ?? initialGroups;
  const [methods, setMethods] = useState<MethodDraft[]>(() =>
    target ? (target.connection_methods ?? []).map(methodDraft) : [newMethod("ssh", true)],
  );
  // the methods as the server has them now (updated as each request succeeds)
  const [saved, setSaved] = useState<ConnectionMethod[]>(() => target?.connection_methods ?? []);
  const [errors, setErrors] = useState<Record<string, string[]>>({});
  const [error, setError] = useState<unknown>(null);
  const [partial, setPartial] = useState<string | null>((location.state as { notice?: string } | null)?.notice ?? null);
  const [busy, setBusy] = useState(false);

  const set = <K extends keyof Fields>(key: K, value: Fields[K]) => setFields((old) => ({ ...old, [key]: value }));
  const at = (path: string) => errors[path]?.join(" ");

  const staticGroups = groups.filter((group) => !group.selector);
  const groupName = (groupId: string) => groups.find((g) => g.id === groupId)?.name ?? groupId;

  async function saveGroups(targetId: string): Promise<string[]> {
    const failed: string[] = [];
    const before = new Set(initialGroups);
    const after = new Set(chosenGroups);
    for (const group of groups) {
      const wanted = after.has(group.id);
      if (wanted === before.has(group.id)) continue;
      const members = (group.members ?? []).filter((member) => member !== targetId);
      if (wanted) members.push(targetId);
      try {
        await unwrap(api.PATCH("/api/v1/groups/{id}/", { params: { path: { id: group.id } }, body: { members } }));
      } catch (exc) {
        failed.push(`${group.name}: ${exc instanceof Error ? exc.message : String(exc)}`);
      }
    }
    client.invalidateQueries({ queryKey: ["groups"] });
    return failed;
  }

  async function create() {
    const body: TargetRequest = {
      ...fields,
      name: fields.name.trim(),
      tags,
      labels: labelsOf(labels),
      connection_methods: methods.map(methodBody),
    };
    let created: TargetDetail;
    try {
      created = (await unwrap(api.POST("/api/v1/targets/", { body }))) as TargetDetail;
    } catch (exc) {
      setError(exc);
      setErrors(exc instanceof ApiError ? exc.fields : {});
      return;
    }
    client.invalidateQueries({ queryKey: ["targets"] });
    const failed = await saveGroups(created.id);
    if (failed.length) {
      // the target exists now: carry on as an edit of it, saying what is left to do
      navigate(`/targets/${created.id}/edit`, {
        replace: true,
        state: {
          notice: `The target was created with its connection methods, but it could not be added to these groups: ${failed.join("; ")}. Choose the groups again and save.`,
        },
      });
      return;
    }
    navigate(`/targets/${created.id}`);
  }

  async function update(current: TargetDetail) {
    const body = { ...fields, name: fields.name.trim(), tags, labels: labelsOf(labels) };
    try {
      await unwrap(api.PATCH("/api/v1/targets/{id}/", { params: { path: { id: current.id } }, body }));
    } catch (exc) {
      setError(exc);
      setErrors(exc instanceof ApiError ? exc.fields : {});
      return;
    }
    client.invalidateQueries({ queryKey: ["targets"] });
    const steps: string[] = [];
    let nowSaved = saved;
    let nowMethods = methods;
    const fail = (exc: unknown, index: number, what: string) => {
      setSaved(nowSaved);
      setMethods(nowMethods);
      if (exc instanceof ApiError && index >= 0) {
        // the method endpoint's field names, as the form's paths: shown at their fields
        const fields = underMethod(exc, index);
        setErrors(fields);
        setError(
          new ApiError(exc.status, {
            code: exc.code,
            message: `Method ${index + 1}: ${exc.message}`,
            fields,
            request_id: exc.requestId,
          }),
        );
      } else {
        setErrors({});
        setError(exc);
      }
      setPartial(
        `The target's details were saved${steps.length ? `, and ${steps.join(", ")}` : ""}. ` +
          `${what} was refused, and nothing after it was sent. Fix it and save again: only what is still different will be sent.`,
      );
    };
    // new and changed methods, in the form's order
    for (const [index, draft] of nowMethods.entries()) {
      const label = `method ${index + 1}`;
      if (!draft.id) {
        try {
          const made = await unwrap(
            api.POST("/api/v1/targets/{target_pk}/methods/", {
              params: { path: { target_pk: current.id } },
              body: methodBody(draft),
            }),
          );
          nowSaved = [...nowSaved, made];
          nowMethods = nowMethods.map((m) => (m.rowId === draft.rowId ? { ...m, id: made.id } : m));
          steps.push(`${label} was added`);
        } catch (exc) {
          return fail(exc, index, `Adding ${label}`);
        }
        continue;
      }
      const before = nowSaved.find((m) => m.id === draft.id);
      if (!before) continue;
      const changes = methodChanges(draft, before);
      if (Object.keys(changes).length === 0) continue;
      try {
        const changed = await unwrap(
          api.PATCH("/api/v1/targets/{target_pk}/methods/{id}/", {
            params: { path: { target_pk: current.id, id: draft.id } },
            body: changes,
          }),
        );
        nowSaved = nowSaved.map((m) => (m.id === changed.id ? changed : m));
        steps.push(`${label} was changed`);
      } catch (exc) {
        return fail(exc, index, `The change of ${label}`);
      }
    }
    // methods removed from the form
    const kept = new Set(nowMethods.map((m) => m.id).filter(Boolean));
    for (const gone of nowSaved.filter((m) => !kept.has(m.id))) {
      try {
        await unwrap(
          api.DELETE("/api/v1/targets/{target_pk}/methods/{id}/", {
            params: { path: { target_pk: current.id, id: gone.id } },
          }),
        );
        nowSaved = nowSaved.filter((m) => m.id !== gone.id);
        steps.push(`the method to ${gone.host}:${gone.port} was removed`);
      } catch (exc) {
        return fail(exc, -1, `Removing the method to ${gone.host}:${gone.port}`);
      }
    }
    const failed = await saveGroups(current.id);
    if (failed.length) {
      setSaved(nowSaved);
      setMethods(nowMethods);
      setPartial(
        `The target and its connection methods were saved, but its groups could not all be changed: ${failed.join("; ")}.`,
      );
      return;
    }
    client.invalidateQueries({ queryKey: ["targets"] });
    navigate(`/targets/${current.id}`);
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    setError(null);
    setPartial(null);
    const local = checkMethods(methods);
    const twice = duplicateKeys(labels);
    if (!fields.name.trim()) local.name = ["Give the target a name."];
    if (Object.keys(local).length || twice.size) {
      setErrors(local);
      setError(new ApiError(400, { code: "validation_error", message: "Some fields need a change before saving." }));
      return;
    }
    setBusy(true);
    try {
      await (target ? update(target) : create());
    } finally {
      setBusy(false);
    }
  }

  const shown = [
    ...FIELD_NAMES,
    "tags",
    "labels",
    ...Object.keys(errors).filter((path) => path.startsWith("labels.") || path.startsWith("tags.")),
    ...methodPaths(methods.length),
  ];
  const tagErrors = Object.entries(errors)
    .filter(([path]) => path === "tags" || path.startsWith("tags."))
    .flatMap(([path, messages]) => {
      const index = Number(path.split(".")[1]);
      return Number.isNaN(index) ? messages : messages.map((m) => `${tags[index] ?? `Tag ${index + 1}`}: ${m}`);
    });
  const title = target ? `Edit ${target.name}` : "New target";
  const cancelTo = target ? `/targets/${target.id}` : "/targets";

  return (
    <Box component="form" onSubmit={submit} noValidate>
      <PageHeader
        title={title}
        subtitle={target ? "Changes apply to the next run and health check." : "Register a machine jobs can run on."}
      />
      <Stack spacing={3}>
        {!mayEdit ? (
          <Alert severity="info">Your role may look at this form but not save it: changing targets needs the manager role or above.</Alert>
        ) : null}
        {partial ? (
          <Alert severity="warning" role="alert" onClose={() => setPartial(null)}>
            {partial}
          </Alert>
        ) : null}
        {error ? <ErrorAlert error={error} shownFields={shown} /> : null}
        <Paper variant="outlined" sx={{ p: 2 }}>
          <Typography variant="h6" component="h2" sx={{ mb: 2 }}>
            Details
          </Typography>
          <Grid container spacing={2}>
            <Grid size={{ xs: 12, md: 6 }}>
              <TextField
                fullWidth
                required
                autoFocus={!target}
                label="Name"
                value={fields.name}
                onChange={(event) => set("name", event.target.value)}
                error={Boolean(at("name"))}
                helperText={at("name") || "Names need not be unique: the id is."}
                slotProps={{ htmlInput: { maxLength: 100 } }}
              />
            </Grid>
            <Grid size={{ xs: 12, sm: 6, md: 3 }}>
              <TextField
                select
                fullWidth
                label="OS family"
                value={fields.os_family}
                onChange={(event) => set("os_family", event.target.value as Fields["os_family"])}
                error={Boolean(at("os_family"))}
                helperText={at("os_family") || " "}
              >
                <MenuItem value="linux">Linux</MenuItem>
                <MenuItem value="windows">Windows</MenuItem>
              </TextField>
            </Grid>
            <Grid size={{ xs: 12, sm: 6, md: 3 }}>
              <TextField
                select
                fullWidth
                label="Environment"
                value={fields.environment}
                onChange={(event) => set("environment", event.target.value as Fields["environment"])}
                error={Boolean(at("environment"))}
                helperText={at("environment") || " "}
              >
                <MenuItem value="production">Production</MenuItem>
                <MenuItem value="staging">Staging</MenuItem>
                <MenuItem value="development">Development</MenuItem>
                <MenuItem value="testing">Testing</MenuItem>
              </TextField>
            </Grid>
            <Grid size={12}>
              <TextField
                fullWidth
                multiline
                minRows={2}
                label="Description"
                value={fields.description}
                onChange={(event) => set("description", event.target.value)}
                error={Boolean(at("description"))}
                helperText={at("description") || " "}
                slotProps={{ htmlInput: { maxLength: 4000 } }}
              />
            </Grid>
            <Grid size={{ xs: 12, sm: 6, md: 3 }}>
              <TextField
                select
                fullWidth
                label="Status"
                value={fields.status}
                onChange={(event) => set("status", event.target.value as Fields["status"])}
                error={Boolean(at("status"))}
                helperText={at("status") || "Only active targets are picked for runs."}
              >
                <MenuItem value="active">Active</MenuItem>
                <MenuItem value="inactive">Inactive</MenuItem>
                <MenuItem value="maintenance">Maintenance</MenuItem>
              </TextField>
            </Grid>
            <Grid size={{ xs: 12, sm: 6, md: 3 }}>
              <TextField
                select
                fullWidth
                label="Host-key policy"
                value={fields.host_key_policy}
                onChange={(event) => set("host_key_policy", event.target.value as Fields["host_key_policy"])}
                error={Boolean(at("host_key_policy"))}
                helperText={at("host_key_policy") || " "}
              >
                <MenuItem value="strict">Strict: only approved keys</MenuItem>
                <MenuItem value="accept-new">Accept new: trust the first key seen</MenuItem>
              </TextField>
            </Grid>
            {(["location", "data_center", "region"] as const).map((key) => (
              <Grid key={key} size={{ xs: 12, sm: 4, md: 2 }}>
                <TextField
                  fullWidth
                  label={{ location: "Location", data_center: "Data center", region: "Region" }[key]}
                  value={fields[key]}
                  onChange={(event) => set(key, event.target.value)}
                  error={Boolean(at(key))}
                  helperText={at(key) || " "}
                  slotProps={{ htmlInput: { maxLength: 100 } }}
                />
              </Grid>
            ))}
          </Grid>
        </Paper>

        <Paper variant="outlined" sx={{ p: 2 }}>
          <Typography variant="h6" component="h2" sx={{ mb: 2 }}>
            Tags, labels and groups
          </Typography>
          <Stack spacing={3}>
            <Autocomplete
              multiple
              freeSolo
              options={[]}
              value={tags}
              onChange={(_, value) => setTags(Array.from(new Set(value.map((v) => String(v).trim()).filter(Boolean))))}
              renderValue={(value, getItemProps) =>
                value.map((tag, index) => {
                  const { key, ...props } = getItemProps({ index });
                  return <Chip key={key} label={tag} size="small" {...props} />;
                })
              }
              renderInput={(params) => (
                <TextField
                  {...params}
                  label="Tags"
                  error={tagErrors.length > 0}
                  helperText={tagErrors.join(" ") || "Type a tag and press Enter (e.g. web, nginx)."}
                />
              )}
            />
            <LabelsEditor rows={labels} onChange={setLabels} errors={errors} />
            <Divider />
            {groupsError ? <ErrorAlert error={groupsError} /> : null}
            <Autocomplete
              multiple
              options={staticGroups.map((group) => group.id)}
              getOptionLabel={groupName}
              value={chosenGroups}
              onChange={(_, value) => setGroupIds(value)}
              renderInput={(params) => (
                <TextField
                  {...params}
                  label="Groups (static membership)"
                  helperText={
                    groups.length === 0
                      ? "No groups yet: create them under Groups."
                      : "Groups defined by a selector include the target by its fields, tags and labels; they are not listed here."
                  }
                />
              )}
            />
          </Stack>
        </Paper>

        <Paper variant="outlined" sx={{ p: 2 }}>
          <MethodsEditor methods={methods} onChange={setMethods} errors={errors} osFamily={fields.os_family} />
        </Paper>

        <Stack direction="row" spacing={1}>
          <GatedButton needs="editTargets" type="submit" variant="contained" disabled={busy}>
            {busy ? "Saving…" : target ? "Save changes" : "Create target"}
          </GatedButton>
          <Button component={Link} to={cancelTo} disabled={busy}>
            Cancel
          </Button>
        </Stack>
      </Stack>
    </Box>
  );
}
