"""The Django admin: staff create, edit, pause and resume subscribers, rotate secrets, issue and
revoke API keys, and browse events, deliveries and attempts (SPEC §8).

Thin: validation is `subscriber_config_clean`, changes go through the services,
which record who did what. Must never render a secret or a key hash (a new
secret or key is shown once, in a message), and must stay fast on tables of
millions of rows: no exact counts, no joins to wide columns, ordering by
primary key only.
"""

import re
from functools import cached_property

from django import forms
from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.utils.html import format_html

from hub.exceptions import InvalidInput
from hub.models import ApiKey, Attempt, Delivery, Event, ManualAction, Subscriber
from hub.services.audit import api_key_create_recorded, api_key_revoke_recorded
from hub.services.subscriber_config import API_FIELDS, FILE_FIELDS, subscriber_config_clean
from hub.services.subscribers import (
    CONFIG_FIELDS,
    secret_rotate,
    subscriber_create,
    subscriber_pause,
    subscriber_resume,
    subscriber_update,
)


class CappedCountPaginator(Paginator):
    """Counts at most CAP rows: an exact COUNT(*) over millions of rows would run on every page view.

    Pages past the cap are reached by filtering or searching instead.
    """

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        return self.object_list[: self.CAP + 1].count()


class ReadOnlyAdmin(admin.ModelAdmin):
    """History is never edited by hand."""

    paginator = CappedCountPaginator
    show_full_result_count = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class UidSearchMixin:
    """Search by exact public id (evt_..., msg_...), through an index, never a LIKE scan."""

    uid_lookups: dict[str, str] = {}
    search_help_text = "An exact id: evt_... or msg_..."

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        lookup = self.uid_lookups.get(term[:4])
        if lookup is None:
            return queryset.none(), False
        return queryset.filter(**{lookup: term}), False


# --- Subscribers ---


class WordListField(forms.CharField):
    """A list of words (topic patterns, dotted paths) in one box, separated by commas or spaces."""

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list) else value

    def to_python(self, value):
        return [word for word in re.split(r"[\s,]+", super().to_python(value) or "") if word]


class SubscriberForm(forms.ModelForm):
    """The admin's subscriber form; `subscriber_config_clean` decides, as for the API and files."""

    id = forms.CharField(max_length=64, help_text="Letters, digits, ., _ and -; cannot be changed later.")
    url = forms.CharField(required=False, max_length=2000, help_text="https:// (http:// only for allowed hosts).")
    test_url = forms.CharField(required=False, max_length=2000, help_text="Where test events go; empty: skipped.")
    topics = WordListField(required=False, help_text="Topic patterns, e.g. drug.copay, appointment.*, #.")
    throttle = forms.IntegerField(required=False, help_text="Deliveries per second; empty: no throttle.")
    max_retries = forms.IntegerField(required=False, help_text="Retries after the first try; empty: the default.")
    retry_base_seconds = forms.FloatField(required=False, help_text="First back-off in seconds; empty: the default.")
    redact = WordListField(required=False, help_text="Dotted paths into data deleted before sending.")
    secret = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.PasswordInput(render_value=False),
        help_text="Optional; left empty, one is generated. Shown once after saving.",
    )

    class Meta:
        model = Subscriber
        fields = ["id", *CONFIG_FIELDS]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.config = None
        if not self.instance._state.adding:
            self.fields.pop("id", None)
            self.fields.pop("secret", None)

    def _settings(self) -> tuple[dict, set[str]]:
        """The form's values in the shape the API takes, and the fields this subscriber may use."""
        cleaned = self.cleaned_data
        data: dict = {"id": cleaned.get("id") if self.instance._state.adding else self.instance.pk}
        for name in ("url", "test_url", "throttle", "max_retries", "retry_base_seconds", "secret"):
            if cleaned.get(name) not in (None, ""):
                data[name] = cleaned[name]
        data["topics"] = cleaned.get("topics") or []
        data["redact"] = cleaned.get("redact") or []
        if self.instance.kind != Subscriber.Kind.CONNECTOR:
            return data, API_FIELDS
        # A connector subscriber (from a file) keeps its target; only the common settings are edited here.
        data.pop("url", None)
        for name in ("connector", "target", "test_target", "schedule"):
            if getattr(self.instance, name):
                data[name] = getattr(self.instance, name)
        return data, FILE_FIELDS

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        data, allowed = self._settings()
        if self.instance._state.adding and Subscriber.objects.filter(pk=data["id"]).exists():
            self.add_error("id", "a subscriber with this id already exists")
            return cleaned
        try:
            self.config = subscriber_config_clean(data, allowed=allowed)
        except InvalidInput as exc:
            if not isinstance(exc.detail, dict):
                self.add_error(None, exc.message)
            for name, reason in (exc.detail or {}).items():
                if name in self.fields:
                    self.add_error(name, reason)
                else:
                    self.add_error(None, f"{name}: {reason}")
        return cleaned

    def _post_clean(self):
        # No model-field validation: it would disagree with subscriber_config_clean (e.g. on single-label
        # http hosts). The instance only carries the cleaned values for the admin's log and redirect.
        if self.config is not None:
            for name in ("id", *CONFIG_FIELDS):
                setattr(self.instance, name, getattr(self.config, name))


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    form = SubscriberForm
    list_display = ("id", "kind", "state", "source_mark", "destination", "throttle", "last_ack_at", "last_error_at")
    list_filter = ("state", "kind", "source")
    search_fields = ("id",)
    actions = ["pause", "resume", "rotate_secret"]
    show_full_result_count = False
    # Read-only on the change page, around the editable settings. Secrets and the
    # throttle's bookkeeping are never shown at all.
    identity_fields = ("id", "kind", "source", "file_path", "state", "connector", "target", "test_target", "schedule")
    progress_fields = (
        "last_ack_at",
        "last_ack_cursor",
        "last_error",
        "last_error_at",
        "previous_secret_expires_at",
        "created_at",
        "updated_at",
    )

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["id", *CONFIG_FIELDS, "secret"]
        return [*self.identity_fields, *CONFIG_FIELDS, *self.progress_fields]

    def get_readonly_fields(self, request, obj=None):
        return (*self.identity_fields, *self.progress_fields) if obj is not None else ()

    def has_delete_permission(self, request, obj=None):
        return False  # deleting would drop the delivery history: pause instead

    @admin.display(description="source", ordering="source")
    def source_mark(self, obj):
        if obj.source == Subscriber.Source.FILE:
            return format_html('<strong title="edits here are overwritten by the file">file</strong> {}', obj.file_path)
        return obj.get_source_display()

    @admin.display(description="URL or connector")
    def destination(self, obj):
        return obj.url or obj.connector

    def save_model(self, request, obj, form, change):
        if change:
            subscriber_update(subscriber=obj, config=form.config, by=request.user)
            return
        subscriber, secret = subscriber_create(config=form.config, by=request.user)
        messages.warning(request, f"Signing secret of {subscriber.pk}, shown this once; store it now: {secret}")

    @admin.action(description="Pause the selected subscribers")
    def pause(self, request, queryset):
        paused = [s.pk for s in queryset if subscriber_pause(subscriber=s, by=request.user)]
        self.message_user(request, f"Paused: {', '.join(paused) or 'none (only active subscribers pause)'}.")

    @admin.action(description="Resume the selected subscribers")
    def resume(self, request, queryset):
        resumed = [s.pk for s in queryset if subscriber_resume(subscriber=s, by=request.user)]
        self.message_user(request, f"Resumed: {', '.join(resumed) or 'none (only paused subscribers resume)'}.")

    @admin.action(description="Rotate the signing secret of the selected subscribers")
    def rotate_secret(self, request, queryset):
        for subscriber in queryset:
            secret = secret_rotate(subscriber=subscriber, by=request.user)
            note = " A secret in its file takes over again when the file changes." if subscriber.file_path else ""
            messages.warning(
                request,
                f"New signing secret of {subscriber.pk}, shown this once; the previous one keeps signing "
                f"beside it for the overlap.{note} {secret}",
            )


# --- API keys ---


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(choices=ApiKey.Scope.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = ApiKey
        fields = ["name", "scopes", "subscriber"]
        help_texts = {"subscriber": "Bind the key to one subscriber: it may then only replay and poll its events."}


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyForm
    list_display = ("name", "prefix", "scope_list", "subscriber", "created_at", "created_by", "revoked_at")
    list_filter = ("revoked_at",)
    list_select_related = ("created_by",)
    search_fields = ("name", "prefix")
    actions = ["revoke"]
    readonly_fields = ("name", "prefix", "scopes", "subscriber", "created_at", "created_by", "revoked_at")

    def get_fields(self, request, obj=None):
        return ["name", "scopes", "subscriber"] if obj is None else list(self.readonly_fields)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else ()

    def has_change_permission(self, request, obj=None):
        # A key is never edited: its page is view-only; the list keeps the revoke action.
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: events keep pointing at their publisher's key

    @admin.display(description="scopes")
    def scope_list(self, obj):
        return ", ".join(obj.scopes)

    def save_model(self, request, obj, form, change):
        key, token = api_key_create_recorded(
            name=obj.name, scopes=obj.scopes, subscriber=obj.subscriber, by=request.user
        )
        obj.pk, obj.prefix, obj.created_at = key.pk, key.prefix, key.created_at
        messages.warning(request, f"API key {key.name!r}, shown this once; store it now: {token}")

    @admin.action(description="Revoke the selected keys", permissions=["change"])
    def revoke(self, request, queryset):
        revoked = [key.prefix for key in queryset if api_key_revoke_recorded(key=key, by=request.user)]
        self.message_user(request, f"Revoked: {', '.join(revoked) or 'none (already revoked)'}.")


# --- History: events, deliveries, attempts (read-only) ---


class TopicFilter(admin.SimpleListFilter):
    """Topics seen among recent events: DISTINCT over the whole table would scan millions of rows."""

    title = "topic"
    parameter_name = "topic"
    RECENT = 10_000

    def lookups(self, request, model_admin):
        recent = Event.objects.order_by("-id").values_list("topic", flat=True)[: self.RECENT]
        return [(topic, topic) for topic in sorted(set(recent))]

    def queryset(self, request, queryset):
        return queryset.filter(topic=self.value()) if self.value() else queryset


@admin.register(Event)
class EventAdmin(UidSearchMixin, ReadOnlyAdmin):
    list_display = ("id", "uid", "topic", "channel", "ts")
    list_filter = ("channel", TopicFilter)
    search_fields = ("uid",)
    uid_lookups = {"evt_": "uid"}
    ordering = ("-id",)
    fields = ("id", "uid", "topic", "channel", "ts", "publisher", "idempotency_key", "envelope")

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        # The list never shows the envelope (up to 256 KB each); the detail page does.
        return queryset.defer("envelope") if request.resolver_match.url_name.endswith("changelist") else queryset


class AttemptInline(admin.TabularInline):
    model = Attempt
    fields = ("number", "started_at", "duration_ms", "outcome", "status_code", "error", "response_excerpt")
    readonly_fields = fields
    ordering = ("number",)
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(UidSearchMixin, ReadOnlyAdmin):
    # Ids, not related objects: joining events would pull their envelopes for every row.
    list_display = ("uid", "cursor", "subscriber_id", "channel", "status", "attempts", "next_attempt_at")
    list_filter = ("status", "channel", "subscriber")
    search_fields = ("uid",)
    uid_lookups = {"msg_": "uid", "evt_": "event__uid"}
    ordering = ("-id",)
    fields = (
        "uid",
        "event",
        "subscriber",
        "channel",
        "origin",
        "status",
        "attempts",
        "next_attempt_at",
        "delivered_at",
        "last_status_code",
        "last_error",
        "created_at",
    )
    raw_id_fields = ("event",)
    inlines = [AttemptInline]

    @admin.display(description="cursor", ordering="event_id")
    def cursor(self, obj):
        return obj.event_id


@admin.register(Attempt)
class AttemptAdmin(UidSearchMixin, ReadOnlyAdmin):
    list_display = ("delivery", "number", "subscriber_id", "started_at", "duration_ms", "outcome", "status_code")
    list_filter = ("outcome", "subscriber")
    list_select_related = ("delivery",)
    search_fields = ("delivery__uid",)
    uid_lookups = {"msg_": "delivery__uid"}
    ordering = ("-id",)


@admin.register(ManualAction)
class ManualActionAdmin(ReadOnlyAdmin):
    list_display = ("at", "actor", "action", "target", "detail")
    list_filter = ("action",)
    search_fields = ("=target", "=actor")
    ordering = ("-id",)
