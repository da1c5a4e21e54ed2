//! [`Store`] for [`SqlStore`]: each call runs its queries (written once, in the `*_sql`
//! modules) on the backend, reads on a connection, changes of more than one statement in a
//! transaction.

use crate::backend::Backend;
use crate::sql::args;
use crate::{
    accounts_sql as accounts, attachments_sql as attachments, chat_sql as chat, contacts_sql as contacts,
    directory_sql as directory, meetings_sql as meetings, rooms_sql as rooms,
};
use crate::{
    AttachmentRow, CallRow, ChatRefusal, ChatWrite, ChatWritten, ContactList, ConversationRow, DirectoryAccount,
    DirectoryApplied, Guest, GuestState, Invite, Meeting, MeetingAccess, MembershipChange, MessageRow, NewInvite,
    NewMeeting, NewSession, NewUser, RelationIds, RequestOutcome, Session, SqlStore, Store, StoreError, User,
};

impl<B: Backend> Store for SqlStore<B> {
    fn write_lanes(&self) -> usize {
        self.db.write_lanes()
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.db.read(|c| c.int("SELECT 1", args![]).map(|_| ()))
    }

    fn create_user(&self, user: &NewUser, now: i64) -> Result<User, StoreError> {
        self.db.write(|c| accounts::insert_user(c, user, now))
    }
    fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        self.db.read(|c| accounts::user_where(c, "id = ?1", id.into()))
    }
    fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        self.db.read(|c| accounts::user_where(c, "username = ?1", username.into()))
    }
    fn list_users(&self) -> Result<Vec<User>, StoreError> {
        self.db.read(accounts::list_users)
    }
    fn set_password_hash(&self, id: i64, password_hash: &str) -> Result<(), StoreError> {
        self.db.read(|c| accounts::set_password_hash(c, id, password_hash))
    }
    fn update_user_flags(&self, id: i64, disabled: Option<bool>, is_admin: Option<bool>) -> Result<User, StoreError> {
        self.db.write(|c| accounts::update_user_flags(c, id, disabled, is_admin))
    }
    fn delete_user(&self, id: i64) -> Result<(), StoreError> {
        self.db.write(|c| accounts::delete_user(c, id))
    }
    fn count_enabled_admins(&self) -> Result<u64, StoreError> {
        self.db.read(accounts::enabled_admins)
    }

    fn create_session(&self, session: &NewSession) -> Result<i64, StoreError> {
        self.db.read(|c| accounts::create_session(c, session))
    }
    fn session_by_token_hash(&self, token_hash: &[u8], now: i64) -> Result<Option<(Session, User)>, StoreError> {
        self.db.read(|c| accounts::session_by_token_hash(c, token_hash, now))
    }
    fn touch_session(&self, id: i64, now: i64, expires_at: i64) -> Result<(), StoreError> {
        self.db.read(|c| accounts::touch_session(c, id, now, expires_at))
    }
    fn list_sessions(&self, user_id: i64, now: i64) -> Result<Vec<Session>, StoreError> {
        self.db.read(|c| accounts::list_sessions(c, user_id, now))
    }
    fn delete_session(&self, user_id: i64, session_id: i64) -> Result<bool, StoreError> {
        self.db.read(|c| {
            Ok(c.exec("DELETE FROM sessions WHERE id = ?1 AND user_id = ?2", args![session_id, user_id])? > 0)
        })
    }
    fn live_sessions(&self, ids: &[i64], now: i64) -> Result<Vec<i64>, StoreError> {
        self.db.read(|c| accounts::live_sessions(c, ids, now))
    }
    fn delete_sessions_of_user(&self, user_id: i64, keep: Option<i64>) -> Result<u64, StoreError> {
        self.db.read(|c| {
            c.exec("DELETE FROM sessions WHERE user_id = ?1 AND id IS DISTINCT FROM ?2", args![user_id, keep])
        })
    }

    fn create_invite(&self, invite: &NewInvite) -> Result<i64, StoreError> {
        self.db.read(|c| accounts::create_invite(c, invite))
    }
    fn usable_invite(&self, token_hash: &[u8], now: i64) -> Result<Option<Invite>, StoreError> {
        self.db.read(|c| accounts::usable_invite(c, token_hash, now))
    }
    fn redeem_invite(&self, token_hash: &[u8], user: &NewUser, now: i64) -> Result<User, StoreError> {
        self.db.write(|c| accounts::redeem_invite(c, token_hash, user, now))
    }
    fn list_invites(&self) -> Result<Vec<Invite>, StoreError> {
        self.db.read(accounts::list_invites)
    }
    fn delete_setup_invites(&self) -> Result<(), StoreError> {
        self.db.read(|c| c.exec("DELETE FROM invites WHERE kind = 'setup' AND used_at IS NULL", args![]).map(|_| ()))
    }

    fn search_users(&self, query: &str, exclude: i64, limit: u32) -> Result<Vec<User>, StoreError> {
        self.db.read(|c| contacts::search_users(c, query, exclude, limit))
    }
    fn contact_list(&self, user: i64) -> Result<ContactList, StoreError> {
        self.db.read(|c| contacts::contact_list(c, user))
    }
    fn relation_ids(&self, user: i64) -> Result<RelationIds, StoreError> {
        self.db.read(|c| contacts::relation_ids(c, user))
    }
    fn relation_between(&self, a: i64, b: i64) -> Result<(bool, bool), StoreError> {
        self.db.read(|c| Ok((contacts::are_contacts(c, a, b)?, contacts::blocked_either(c, a, b)?)))
    }
    fn request_contact(&self, from: i64, to: i64, now: i64) -> Result<RequestOutcome, StoreError> {
        self.db.write(|c| contacts::request_contact(c, from, to, now))
    }
    fn answer_request(&self, to: i64, from: i64, accept: bool, now: i64) -> Result<(), StoreError> {
        self.db.write(|c| contacts::answer_request(c, to, from, accept, now))
    }
    fn cancel_request(&self, from: i64, to: i64) -> Result<bool, StoreError> {
        self.db.read(|c| contacts::cancel_request(c, from, to))
    }
    fn remove_contact(&self, user: i64, other: i64) -> Result<bool, StoreError> {
        self.db.write(|c| contacts::remove_contact(c, user, other))
    }
    fn block(&self, user: i64, other: i64, now: i64) -> Result<(), StoreError> {
        self.db.write(|c| contacts::block(c, user, other, now))
    }
    fn unblock(&self, user: i64, other: i64) -> Result<bool, StoreError> {
        self.db.read(|c| contacts::unblock(c, user, other))
    }

    fn record_call(&self, call: &CallRow) -> Result<i64, StoreError> {
        self.db.read(|c| contacts::record_call(c, call))
    }
    fn list_calls(&self, user: i64, limit: u32) -> Result<Vec<CallRow>, StoreError> {
        self.db.read(|c| contacts::list_calls(c, user, limit))
    }
    fn mark_missed_seen(&self, user: i64) -> Result<u64, StoreError> {
        self.db.read(|c| contacts::mark_missed_seen(c, user))
    }

    fn chat_write(&self, writes: &[ChatWrite], now: i64) -> Result<Vec<Result<ChatWritten, ChatRefusal>>, StoreError> {
        self.db.write_locked(|c| chat::chat_write(c, writes, now))
    }
    fn conversation_members(&self, conv: i64) -> Result<Vec<i64>, StoreError> {
        self.db.read(|c| chat::member_ids(c, conv))
    }
    fn direct_conversation(&self, a: i64, b: i64, now: i64) -> Result<(i64, bool), StoreError> {
        self.db.write(|c| chat::direct_conversation(c, a, b, now))
    }
    fn create_group(
        &self,
        owner: i64,
        name: &str,
        members: &[i64],
        now: i64,
    ) -> Result<(i64, Vec<MessageRow>), StoreError> {
        self.db.write(|c| chat::create_group(c, owner, name, members, now))
    }
    fn rename_group(&self, user: i64, conv: i64, name: &str, now: i64) -> Result<MembershipChange, StoreError> {
        self.db.write(|c| chat::rename_group(c, user, conv, name, now))
    }
    fn add_member(&self, user: i64, conv: i64, new: i64, now: i64) -> Result<MembershipChange, StoreError> {
        self.db.write(|c| chat::add_member(c, user, conv, new, now))
    }
    fn remove_member(&self, user: i64, conv: i64, who: i64, now: i64) -> Result<MembershipChange, StoreError> {
        self.db.write(|c| chat::remove_member(c, user, conv, who, now))
    }
    fn list_conversations(&self, user: i64) -> Result<Vec<ConversationRow>, StoreError> {
        self.db.read(|c| chat::list_conversations(c, user))
    }
    fn conversation(&self, user: i64, conv: i64) -> Result<Option<ConversationRow>, StoreError> {
        self.db.read(|c| chat::conversation(c, conv, user))
    }
    fn messages_before(
        &self,
        user: i64,
        conv: i64,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<MessageRow>, StoreError> {
        self.db.read(|c| chat::messages_before(c, user, conv, before, limit))
    }
    fn messages_changed_after(
        &self,
        user: i64,
        conv: i64,
        after_rev: i64,
        limit: u32,
    ) -> Result<Vec<MessageRow>, StoreError> {
        self.db.read(|c| chat::messages_changed_after(c, user, conv, after_rev, limit))
    }

    fn attachment_for(&self, user: i64, token: &str) -> Result<Option<AttachmentRow>, StoreError> {
        self.db.read(|c| attachments::visible_to(c, user, token))
    }
    fn attachment_usage(&self, user: i64) -> Result<i64, StoreError> {
        self.db.read(|c| attachments::usage(c, user))
    }
    fn attachment_exists(&self, token: &str) -> Result<bool, StoreError> {
        self.db.read(|c| attachments::exists(c, token))
    }
    fn purge_attachments(&self, created_before: i64) -> Result<Vec<String>, StoreError> {
        self.db.write(|c| attachments::purge(c, created_before))
    }

    fn apply_directory_account(
        &self,
        account: &DirectoryAccount,
        create: bool,
        now: i64,
    ) -> Result<DirectoryApplied, StoreError> {
        self.db.write(|c| directory::apply_directory_account(c, account, create, now))
    }

    fn create_meeting(&self, meeting: &NewMeeting, now: i64) -> Result<Meeting, StoreError> {
        self.db.write(|c| meetings::create_meeting(c, meeting, now))
    }
    fn meeting(&self, id: i64) -> Result<Option<Meeting>, StoreError> {
        self.db.read(|c| meetings::meeting_where(c, "id = ?1", args![id]))
    }
    fn meeting_by_conv(&self, conv: i64) -> Result<Option<Meeting>, StoreError> {
        self.db.read(|c| meetings::meeting_where(c, "conv_id = ?1", args![conv]))
    }
    fn meeting_by_link(&self, token: &str) -> Result<Option<Meeting>, StoreError> {
        self.db.read(|c| meetings::meeting_where(c, "link_token = ?1", args![token]))
    }
    fn meeting_by_code(&self, code: &str) -> Result<Option<Meeting>, StoreError> {
        self.db.read(|c| meetings::meeting_where(c, "code = ?1 AND ended_at IS NULL", args![code]))
    }
    fn meetings_hosted_by(&self, user: i64, now: i64) -> Result<Vec<Meeting>, StoreError> {
        self.db.read(|c| meetings::meetings_hosted_by(c, user, now))
    }
    fn meetings_past_end(&self, now: i64) -> Result<Vec<i64>, StoreError> {
        self.db.read(|c| meetings::meetings_past_end(c, now))
    }
    fn meeting_role(&self, meeting: i64, user: i64) -> Result<Option<String>, StoreError> {
        self.db.read(|c| meetings::meeting_role(c, meeting, user))
    }
    fn meeting_hosts(&self, meeting: i64) -> Result<Vec<i64>, StoreError> {
        self.db.read(|c| meetings::meeting_hosts(c, meeting))
    }
    fn join_meeting(&self, meeting: i64, user: i64, now: i64) -> Result<Meeting, StoreError> {
        self.db.write(|c| meetings::join_meeting(c, meeting, user, now))
    }
    fn set_meeting_access(&self, meeting: i64, access: MeetingAccess) -> Result<Meeting, StoreError> {
        self.db.write(|c| meetings::set_meeting_access(c, meeting, access))
    }
    fn end_meeting(&self, meeting: i64, now: i64) -> Result<Vec<i64>, StoreError> {
        self.db.write(|c| meetings::end_meeting(c, meeting, now))
    }
    fn create_guest(&self, meeting: i64, username: &str, display_name: &str, now: i64) -> Result<Guest, StoreError> {
        self.db.write(|c| meetings::create_guest(c, meeting, username, display_name, now))
    }
    fn guest(&self, user: i64) -> Result<Option<Guest>, StoreError> {
        self.db.read(|c| meetings::guest(c, user))
    }
    fn guests_of(&self, meeting: i64) -> Result<Vec<Guest>, StoreError> {
        self.db.read(|c| meetings::guests_of(c, meeting))
    }
    fn set_guest_state(&self, user: i64, state: GuestState, now: i64) -> Result<Guest, StoreError> {
        self.db.write(|c| meetings::set_guest_state(c, user, state, now))
    }
    fn burn_code(&self, code_hash: &[u8], until: i64, now: i64) -> Result<(), StoreError> {
        self.db.write(|c| meetings::burn_code(c, code_hash, until, now))
    }
    fn code_burnt(&self, code_hash: &[u8], now: i64) -> Result<bool, StoreError> {
        self.db.read(|c| meetings::code_burnt(c, code_hash, now))
    }

    fn room_node(&self, conv: i64) -> Result<Option<String>, StoreError> {
        self.db.read(|c| rooms::room_node(c, conv))
    }
    fn claim_room(&self, conv: i64, node: &str, replacing: Option<&str>, now: i64) -> Result<String, StoreError> {
        self.db.write(|c| rooms::claim_room(c, conv, node, replacing, now))
    }
    fn release_room(&self, conv: i64, node: &str) -> Result<(), StoreError> {
        self.db.write(|c| rooms::release_room(c, conv, node))
    }
    fn release_rooms_of(&self, node: &str) -> Result<u64, StoreError> {
        self.db.write(|c| rooms::release_rooms_of(c, node))
    }
}
