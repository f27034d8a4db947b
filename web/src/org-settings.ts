/**
 * An organisation's settings on the Organisations page: transcribe every new recording automatically,
 * and how many days deleted recordings stay in the trash. Everyone sees them; owners and admins change
 * them (docs/roles.md).
 */
import { type ApiClient, ApiError, type Org } from './api.ts';
import { fieldError, h, notice } from './dom.ts';

export interface OrgSettingsSection {
  element: HTMLElement;
  show(org: Org | null): Promise<void>;
}

export function orgSettingsSection(api: ApiClient): OrgSettingsSection {
  const auto = h('input', { type: 'checkbox', name: 'auto-transcribe', id: 'auto-transcribe' });
  const hint = h('small', { class: 'hint', id: 'auto-transcribe-hint' });
  auto.setAttribute('aria-describedby', hint.id);
  const message = notice();
  const days = h('input', {
    type: 'number',
    name: 'trash-retention-days',
    id: 'trash-retention-days',
    min: 1,
    max: 3650,
    step: 1,
    required: true,
    inputMode: 'numeric',
    class: 'days',
  });
  const saveDays = h('button', { type: 'submit', class: 'button small secondary' }, 'Save');
  const daysHint = h('small', { class: 'hint', id: 'trash-retention-hint' });
  days.setAttribute('aria-describedby', daysHint.id);
  const daysMessage = notice();
  const retention = h(
    'form',
    // The page says what is wrong itself, and puts the focus on the field (no browser bubble).
    { class: 'stack retention', noValidate: true },
    h('label', { htmlFor: days.id }, 'Keep deleted recordings in the trash for (days)'),
    h('div', { class: 'row-inline' }, days, saveDays),
    daysHint,
    daysMessage.element,
  );
  const element = h(
    'div',
    { class: 'stack org-settings' },
    h('h3', null, 'Settings'),
    h('div', { class: 'check' }, auto, h('label', { htmlFor: auto.id }, 'Transcribe new recordings automatically')),
    hint,
    message.element,
    retention,
  );
  let current: Org | null = null;

  retention.addEventListener('submit', async (event) => {
    event.preventDefault();
    const org = current;
    if (!org) return;
    daysMessage.clear();
    const value = Number(days.value);
    if (!Number.isInteger(value) || value < 1 || value > 3650) {
      fieldError(days, daysMessage, 'Enter a whole number of days from 1 to 3650.');
      return;
    }
    saveDays.disabled = true;
    try {
      const settings = await api.updateOrgSettings(org.id, { trash_retention_days: value });
      days.value = String(settings.trash_retention_days);
      daysMessage.show(
        `Deleted recordings are now kept for ${settings.trash_retention_days} days, those in the trash already too.`,
        'success',
      );
    } catch (error) {
      fieldError(days, daysMessage, error instanceof ApiError ? error.message : String(error));
    } finally {
      saveDays.disabled = false;
    }
  });

  auto.addEventListener('change', async () => {
    const org = current;
    if (!org) return;
    message.clear();
    auto.disabled = true;
    try {
      const settings = await api.updateOrgSettings(org.id, { auto_transcribe: auto.checked });
      auto.checked = settings.auto_transcribe;
      message.show(
        settings.auto_transcribe
          ? 'New recordings will be transcribed when they are ready.'
          : 'New recordings will not be transcribed automatically.',
        'success',
      );
    } catch (error) {
      auto.checked = !auto.checked;
      message.show(error instanceof ApiError ? error.message : String(error));
    } finally {
      auto.disabled = org.role === 'member';
    }
  });

  return {
    element,
    async show(org) {
      current = org;
      message.clear();
      daysMessage.clear();
      element.hidden = !org;
      if (!org) return;
      const mayChange = org.role !== 'member';
      auto.disabled = !mayChange;
      days.readOnly = !mayChange;
      saveDays.hidden = !mayChange;
      hint.textContent = mayChange
        ? 'Each recording is transcribed once it is ready, when the server has a transcription provider.'
        : 'Only owners and admins change this.';
      daysHint.textContent = mayChange
        ? 'Then they are deleted for good. A change applies to what is in the trash already.'
        : 'Then they are deleted for good. Only owners and admins change this.';
      try {
        const settings = await api.orgSettings(org.id);
        if (current !== org) return;
        auto.checked = settings.auto_transcribe;
        days.value = String(settings.trash_retention_days);
      } catch (error) {
        message.show(error instanceof ApiError ? error.message : String(error));
      }
    },
  };
}
