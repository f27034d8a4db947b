/**
 * An organisation's settings on the Organisations page: today one switch, transcribe every new
 * recording automatically. Everyone sees it; owners and admins change it (docs/roles.md).
 */
import { type ApiClient, ApiError, type Org } from './api.ts';
import { h, notice } from './dom.ts';

export interface OrgSettingsSection {
  element: HTMLElement;
  show(org: Org | null): Promise<void>;
}

export function orgSettingsSection(api: ApiClient): OrgSettingsSection {
  const auto = h('input', { type: 'checkbox', name: 'auto-transcribe', id: 'auto-transcribe' });
  const hint = h('small', { class: 'hint', id: 'auto-transcribe-hint' });
  auto.setAttribute('aria-describedby', hint.id);
  const message = notice();
  const element = h(
    'div',
    { class: 'stack org-settings' },
    h('h3', null, 'Settings'),
    h('div', { class: 'check' }, auto, h('label', { htmlFor: auto.id }, 'Transcribe new recordings automatically')),
    hint,
    message.element,
  );
  let current: Org | null = null;

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
      element.hidden = !org;
      if (!org) return;
      const mayChange = org.role !== 'member';
      auto.disabled = !mayChange;
      hint.textContent = mayChange
        ? 'Each recording is transcribed once it is ready, when the server has a transcription provider.'
        : 'Only owners and admins change this.';
      try {
        const settings = await api.orgSettings(org.id);
        if (current === org) auto.checked = settings.auto_transcribe;
      } catch (error) {
        message.show(error instanceof ApiError ? error.message : String(error));
      }
    },
  };
}
