"""The audit trail becomes a hash chain: sequence, object, outcome, changes, prev_hash/hash;
the chain head and checkpoints; existing records are chained in the order they occurred; on
PostgreSQL a trigger refuses UPDATE and DELETE of records (retention sets a local flag)."""

from django.db import migrations, models

TRIGGER_SQL = """
CREATE OR REPLACE FUNCTION audit_record_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('opsconductor.audit_retention', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit records are append-only: % refused (only retention deletes them)',
        TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS audit_record_append_only ON audit_auditrecord;
CREATE TRIGGER audit_record_append_only BEFORE UPDATE OR DELETE ON audit_auditrecord
    FOR EACH ROW EXECUTE FUNCTION audit_record_append_only();
"""
DROP_SQL = """
DROP TRIGGER IF EXISTS audit_record_append_only ON audit_auditrecord;
DROP FUNCTION IF EXISTS audit_record_append_only();
"""


def chain_existing(apps, schema_editor):
    from apps.audit import integrity
    from apps.audit.describe import describe, masked

    AuditRecord = apps.get_model("audit", "AuditRecord")
    AuditChainHead = apps.get_model("audit", "AuditChainHead")
    db = schema_editor.connection.alias
    sequence, previous = 0, integrity.GENESIS
    for record in AuditRecord.objects.using(db).order_by("occurred_at", "id").iterator():
        sequence += 1
        record.details = masked(record.details)
        for name, value in describe(record.action, record.details).items():
            setattr(record, name, value)
        record.sequence = sequence
        record.prev_hash = previous
        record.hash = integrity.chain_hash(previous, integrity.record_values(record))
        previous = record.hash
        record.save(using=db)
    AuditChainHead.objects.using(db).update_or_create(
        pk=1, defaults={"sequence": sequence, "hash": previous}
    )


def add_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGER_SQL, params=None)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [
        migrations.AddField("auditrecord", "sequence", models.BigIntegerField(null=True)),
        migrations.AddField("auditrecord", "object_type",
                            models.CharField(blank=True, max_length=50, default="")),
        migrations.AddField("auditrecord", "object_id",
                            models.CharField(blank=True, max_length=64, default="")),
        migrations.AddField("auditrecord", "object_name",
                            models.CharField(blank=True, max_length=255, default="")),
        migrations.AddField("auditrecord", "outcome",
                            models.CharField(blank=True, db_index=True, max_length=20, default="")),
        migrations.AddField("auditrecord", "changes", models.JSONField(default=dict)),
        migrations.AddField("auditrecord", "prev_hash", models.CharField(max_length=64, default="")),
        migrations.AddField("auditrecord", "hash", models.CharField(max_length=64, default="")),
        migrations.AlterField("auditrecord", "recorded_at", models.DateTimeField()),
        migrations.CreateModel(
            name="AuditChainHead",
            fields=[
                ("id", models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                ("sequence", models.BigIntegerField(default=0)),
                ("hash", models.CharField(max_length=64)),
            ],
        ),
        migrations.CreateModel(
            name="AuditCheckpoint",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("kind", models.CharField(max_length=20)),
                ("sequence", models.BigIntegerField()),
                ("hash", models.CharField(max_length=64)),
                ("removed_count", models.BigIntegerField(default=0)),
                ("removed_until", models.DateTimeField(blank=True, null=True)),
                ("first_removed_sequence", models.BigIntegerField(blank=True, null=True)),
                ("export_path", models.CharField(blank=True, max_length=500)),
                ("signature", models.CharField(max_length=64)),
            ],
            options={"ordering": ("-sequence",)},
        ),
        migrations.RunPython(chain_existing, migrations.RunPython.noop),
        migrations.AlterField("auditrecord", "sequence", models.BigIntegerField(unique=True)),
        migrations.AlterField("auditrecord", "object_type", models.CharField(blank=True, max_length=50)),
        migrations.AlterField("auditrecord", "object_id", models.CharField(blank=True, max_length=64)),
        migrations.AlterField("auditrecord", "object_name", models.CharField(blank=True, max_length=255)),
        migrations.AlterField("auditrecord", "outcome",
                              models.CharField(blank=True, db_index=True, max_length=20)),
        migrations.AlterField("auditrecord", "prev_hash", models.CharField(max_length=64)),
        migrations.AlterField("auditrecord", "hash", models.CharField(max_length=64)),
        migrations.AlterModelOptions("auditrecord", {"ordering": ("-sequence",)}),
        migrations.AddIndex("auditrecord", models.Index(
            fields=["object_type", "object_id", "sequence"], name="audit_object")),
        migrations.AddIndex("auditrecord", models.Index(
            fields=["actor_name", "sequence"], name="audit_actor")),
        migrations.AddIndex("auditrecord", models.Index(
            fields=["action", "sequence"], name="audit_action")),
        migrations.AddIndex("auditrecord", models.Index(
            fields=["outcome", "sequence"], name="audit_outcome")),
        migrations.AddIndex("auditrecord", models.Index(
            fields=["source_ip", "sequence"], name="audit_ip")),
        migrations.RunPython(add_trigger, drop_trigger),
    ]
