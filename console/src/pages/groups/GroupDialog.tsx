// Create or change a group: name, description, a saved selector (dynamic members) and static
// members. Field errors from the API are shown at their field.
import {
  Alert,
  Autocomplete,
  Button,
  Dialog,
  DialogActions,
  DialogContent,
  DialogTitle,
  Stack,
  TextField,
  Typography,
} from "@mui/material";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, ApiError, unwrap, type components } from "../../api/client";
import { SelectorField } from "../../components/SelectorField";
import { ErrorAlert } from "../../components/ErrorAlert";

export type Group = components["schemas"]["Group"];
type Target = components["schemas"]["Target"];

interface Option {
  id: string;
  name: string;
  detail?: string;
}

function useTargetSearch(search: string) {
  return useQuery({
    queryKey: ["targets", "search", search],
    queryFn: () =>
      unwrap(api.GET("/api/v1/targets/", { params: { query: { search: search || undefined, page_size: 20 } } })),
    staleTime: 30_000,
  });
}

export function GroupDialog({
  open,
  group,
  knownMembers = [],
  onClose,
  onSaved,
}: {
  open: boolean;
  /** The group to change; none: a new group. */
  group?: Group;
  /** Names of the group's members already loaded by the page (ids otherwise). */
  knownMembers?: Pick<Target, "id" | "name">[];
  onClose: () => void;
  onSaved: (group: Group) => void;
}) {
  const client = useQueryClient();
  const [name, setName] = useState(group?.name ?? "");
  const [description, setDescription] = useState(group?.description ?? "");
  const [selector, setSelector] = useState(group?.selector ?? "");
  const [members, setMembers] = useState<Option[]>(() =>
    (group?.members ?? []).map((id) => ({ id, name: knownMembers.find((t) => t.id === id)?.name ?? id })),
  );
  // names of static members the page did not already know (ids shown until they arrive)
  const unknownIds = (group?.members ?? []).filter((memberId) => !knownMembers.some((t) => t.id === memberId)).slice(0, 80);
  const memberNames = useQuery({
    queryKey: ["targets", "names", unknownIds],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/targets/", {
          params: { query: { selector: `id in (${unknownIds.join(", ")})`, page_size: unknownIds.length } },
        }),
      ),
    enabled: open && unknownIds.length > 0,
    staleTime: 60_000,
  });
  const namedMembers = members.map((member) =>
    member.name === member.id
      ? { ...member, name: memberNames.data?.results.find((t) => t.id === member.id)?.name ?? member.id }
      : member,
  );
  const [search, setSearch] = useState("");
  const targets = useTargetSearch(search);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const fields = error instanceof ApiError ? error.fields : {};
  const at = (path: string) => fields[path]?.join(" ");
  const options: Option[] = (targets.data?.results ?? []).map((t) => ({
    id: t.id,
    name: t.name,
    detail: t.environment,
  }));

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    const body = { name: name.trim(), description, selector: selector.trim(), members: members.map((m) => m.id) };
    try {
      const saved = group
        ? await unwrap(api.PATCH("/api/v1/groups/{id}/", { params: { path: { id: group.id } }, body }))
        : await unwrap(api.POST("/api/v1/groups/", { body }));
      client.invalidateQueries({ queryKey: ["groups"] });
      onSaved(saved);
    } catch (exc) {
      setError(exc);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Dialog open={open} onClose={busy ? undefined : onClose} fullWidth maxWidth="md" aria-labelledby="group-dialog-title">
      <form onSubmit={submit} noValidate>
        <DialogTitle id="group-dialog-title">{group ? `Edit group ${group.name}` : "New group"}</DialogTitle>
        <DialogContent>
          <Stack spacing={2} sx={{ pt: 1 }}>
            {error ? <ErrorAlert error={error} shownFields={["name", "description", "selector", "members"]} /> : null}
            <TextField
              required
              autoFocus
              label="Name"
              value={name}
              onChange={(event) => setName(event.target.value)}
              error={Boolean(at("name"))}
              helperText={at("name") || "Letters, digits, '_', '.', ':' or '-'; selectors name it as group:NAME."}
              slotProps={{ htmlInput: { maxLength: 64, spellCheck: false } }}
            />
            <TextField
              label="Description"
              multiline
              minRows={2}
              value={description}
              onChange={(event) => setDescription(event.target.value)}
              error={Boolean(at("description"))}
              helperText={at("description") || " "}
              slotProps={{ htmlInput: { maxLength: 4000 } }}
            />
            <SelectorField
              label="Selector (dynamic members)"
              value={selector}
              onChange={setSelector}
              errors={at("selector") ? [String(at("selector"))] : []}
              helperText="Targets this selector matches are members too, as they come and go. Example: env=production and tag:web. Empty: static members only."
            />
            <Autocomplete
              multiple
              filterSelectedOptions
              options={options}
              value={namedMembers}
              loading={targets.isFetching}
              isOptionEqualToValue={(option, value) => option.id === value.id}
              getOptionLabel={(option) => option.name}
              filterOptions={(all) => all}
              onInputChange={(_, value, reason) => {
                if (reason === "input") setSearch(value);
              }}
              onChange={(_, value) => setMembers(value)}
              renderOption={(props, option) => {
                const { key, ...rest } = props;
                return (
                  <li key={key} {...rest}>
                    {option.name}
                    {option.detail ? (
                      <Typography component="span" variant="body2" color="text.secondary" sx={{ ml: 1 }}>
                        {option.detail}
                      </Typography>
                    ) : null}
                  </li>
                );
              }}
              renderInput={(params) => (
                <TextField
                  {...params}
                  label="Static members"
                  error={Boolean(at("members"))}
                  helperText={at("members") || "Type to find targets by name; they stay members until removed."}
                />
              )}
            />
            {!selector.trim() && members.length === 0 ? (
              <Alert severity="info">
                A group with neither a selector nor static members is empty; you can add members later.
              </Alert>
            ) : null}
          </Stack>
        </DialogContent>
        <DialogActions>
          <Button onClick={onClose} disabled={busy}>
            Cancel
          </Button>
          <Button type="submit" variant="contained" disabled={busy}>
            {busy ? "Saving…" : group ? "Save changes" : "Create group"}
          </Button>
        </DialogActions>
      </form>
    </Dialog>
  );
}
