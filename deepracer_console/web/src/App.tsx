import { Navigate, Route, Routes, useLocation, useNavigate } from "react-router-dom";
import AppLayout from "@cloudscape-design/components/app-layout";
import SideNavigation from "@cloudscape-design/components/side-navigation";
import TopNavigation from "@cloudscape-design/components/top-navigation";
import ModelsPage from "./pages/ModelsPage";
import CreateModelPage from "./pages/CreateModelPage";
import ModelPage from "./pages/ModelPage";
import ImportModelPage from "./pages/ImportModelPage";
import TracksPage from "./pages/TracksPage";

function Navigation() {
  const navigate = useNavigate();
  const { pathname } = useLocation();
  const active = pathname.startsWith("/tracks") ? "/tracks" : "/models";
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
      items={[
        { type: "link", text: "Your models", href: "/models" },
        { type: "link", text: "Tracks", href: "/tracks" },
        { type: "divider" },
        { type: "link", text: "API (OpenAPI)", href: "/api/docs", external: true },
      ]}
    />
  );
}

export default function App() {
  return (
    <>
      <div id="top-nav" style={{ position: "sticky", top: 0, zIndex: 1002 }}>
        <TopNavigation
          identity={{ href: "/models", title: "DeepRacer console" }}
          utilities={[{ type: "button", text: "local", iconName: "status-positive" }]}
        />
      </div>
      <AppLayout
        headerSelector="#top-nav"
        navigation={<Navigation />}
        toolsHide
        content={
          <Routes>
            <Route path="/" element={<Navigate to="/models" replace />} />
            <Route path="/models" element={<ModelsPage />} />
            <Route path="/models/create" element={<CreateModelPage />} />
            <Route path="/models/import" element={<ImportModelPage />} />
            <Route path="/models/:id" element={<ModelPage />} />
            <Route path="/tracks" element={<TracksPage />} />
            <Route path="*" element={<Navigate to="/models" replace />} />
          </Routes>
        }
      />
    </>
  );
}
