import { Navigate, Route, Routes, useLocation, useNavigate } from "react-router-dom";
import AppLayout from "@cloudscape-design/components/app-layout";
import SideNavigation, { SideNavigationProps } from "@cloudscape-design/components/side-navigation";
import TopNavigation, { TopNavigationProps } from "@cloudscape-design/components/top-navigation";
import ModelsPage from "./pages/ModelsPage";
import CreateModelPage from "./pages/CreateModelPage";
import ModelPage from "./pages/ModelPage";
import ImportModelPage from "./pages/ImportModelPage";
import TracksPage from "./pages/TracksPage";
import LoginPage from "./pages/LoginPage";
import UsersPage from "./pages/UsersPage";
import RacesPage from "./pages/RacesPage";
import CreateRacePage from "./pages/CreateRacePage";
import RacePage from "./pages/RacePage";
import BigScreenPage from "./pages/BigScreenPage";
import TimekeeperPage from "./pages/TimekeeperPage";
import AccountPage from "./pages/AccountPage";
import { AuthProvider, loginHref, RequireLogin, ROLE_LABELS, useAuth } from "./components/Auth";

function Navigation() {
  const navigate = useNavigate();
  const { pathname } = useLocation();
  const auth = useAuth();
  const active = ["/tracks", "/races", "/users"].find((p) => pathname.startsWith(p)) ?? "/models";
  const items: SideNavigationProps.Item[] = [];
  if (auth.me?.logged_in) {
    items.push({ type: "link", text: "Your models", href: "/models" }, { type: "link", text: "Tracks", href: "/tracks" });
  }
  items.push({ type: "link", text: "Races", href: "/races" });
  if (auth.isAdmin && !auth.singleUser) items.push({ type: "link", text: "Users", href: "/users" });
  items.push({ type: "divider" }, { type: "link", text: "API (OpenAPI)", href: "/api/docs", external: true });
  return (
    <SideNavigation
      header={{ text: "Reinforcement learning", href: "/models" }}
      activeHref={active}
      onFollow={(event) => {
        if (!event.detail.external) {
          event.preventDefault();
          navigate(event.detail.href);
        }
      }}
      items={items}
    />
  );
}

function TopBar() {
  const auth = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  let utilities: TopNavigationProps.Utility[];
  if (auth.singleUser) {
    utilities = [{ type: "button", text: "local", iconName: "status-positive" }];
  } else if (auth.user) {
    utilities = [
      {
        type: "menu-dropdown",
        text: `${auth.user.username} · ${ROLE_LABELS[auth.user.role] ?? auth.user.role}`,
        description: "Logged in",
        iconName: "user-profile",
        ariaLabel: `${auth.user.username} (${ROLE_LABELS[auth.user.role] ?? auth.user.role})`,
        items: [
          { id: "account", text: "Your account and quota", href: "/account" },
          { id: "logout", text: "Log out" },
        ],
        onItemClick: (e) => {
          if (e.detail.id === "logout") auth.logout();
          if (e.detail.id === "account") {
            e.preventDefault();
            navigate("/account");
          }
        },
      },
    ];
  } else if (auth.loading) {
    utilities = [];
  } else {
    utilities = [
      {
        type: "button",
        text: "Log in",
        iconName: "user-profile",
        href: loginHref(location.pathname, location.search),
        onClick: (e) => {
          e.preventDefault();
          navigate(loginHref(location.pathname, location.search));
        },
      },
    ];
  }
  return (
    <div id="top-nav" style={{ position: "sticky", top: 0, zIndex: 1002 }}>
      <TopNavigation identity={{ href: "/models", title: "DeepRacer console" }} utilities={utilities} />
    </div>
  );
}

function Console() {
  const need = (page: React.ReactNode, role?: "facilitator" | "admin") => <RequireLogin role={role}>{page}</RequireLogin>;
  return (
    <>
      <TopBar />
      <AppLayout
        headerSelector="#top-nav"
        navigation={<Navigation />}
        toolsHide
        content={
          <Routes>
            <Route path="/" element={<Navigate to="/models" replace />} />
            <Route path="/login" element={<LoginPage />} />
            <Route path="/models" element={need(<ModelsPage />)} />
            <Route path="/models/create" element={need(<CreateModelPage />)} />
            <Route path="/models/import" element={need(<ImportModelPage />)} />
            <Route path="/models/:id" element={need(<ModelPage />)} />
            <Route path="/tracks" element={need(<TracksPage />)} />
            <Route path="/races" element={<RacesPage />} />
            <Route path="/races/create" element={need(<CreateRacePage />, "facilitator")} />
            <Route path="/races/:id" element={<RacePage />} />
            <Route path="/races/:id/timekeeper" element={need(<TimekeeperPage />, "facilitator")} />
            <Route path="/users" element={need(<UsersPage />, "admin")} />
            <Route path="/account" element={need(<AccountPage />)} />
            <Route path="*" element={<Navigate to="/models" replace />} />
          </Routes>
        }
      />
    </>
  );
}

export default function App() {
  return (
    <AuthProvider>
      <Routes>
        {/* the event's big screen: no navigation, no chrome */}
        <Route path="/races/:id/big-screen" element={<BigScreenPage />} />
        <Route path="*" element={<Console />} />
      </Routes>
    </AuthProvider>
  );
}
